package registry

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Link is what the registry needs of a named actor's link.
type Link[P, S any] interface {
	comparable
	Name() string
	Origin() P // the configuration it was created with
	Retired() bool
	Registered() bool
	SetRegistered() bool
	PID() *actor.PID
	SetPID(*actor.PID)
	IdleSince() time.Time
	Stats() S
	MailboxDepth() int64
	Restarts() uint64
}

// Config is what the registry needs of a family's policy.
type Config interface {
	comparable
	fmt.Stringer
	Validate() error
}

// Family is one kind of named actor (breakers, limiters): its published name → link
// map, how to spawn and reconfigure one, and the configurations of passivated names.
// Get, Live, Stats, Resolve and Collect are safe for concurrent use; the rest belongs to
// the supervisor actor.
type Family[L Link[P, S], P Config, S any] struct {
	kind        string // "breaker" or "limiter": log fields, actor ids, the kind label
	r           *Registry
	links       linkMap[L]
	spawn       func(b Backend, name string, p P, env Env) (L, *actor.Props)
	reconfigure func(ticket uint64, p P) any // the Reconfigure message for p
	unnamed     func(P) P                    // p without its Name, to compare thresholds
	published   func(L) bool                 // the link's published view is live
	descs       []*prometheus.Desc           // the family's own per-name series
	series      func(emit emitter, name string, s S)
	// configs remembers the configuration of each passivated name until the name is
	// used again: the first policy that used a name configures it, and passivation must
	// not lose that (the recreated actor would take the next policy's thresholds). Only
	// the supervisor actor touches it.
	configs configMemory[P]
	// placeholder configures an actor created by Provide (a manual control on a name no
	// policy has used yet) until the first policy that names it supplies its own.
	placeholder P
	// provisional holds the actors Provide created with placeholder.
	provisional provisionals[L, P]
	// shared reports whether p asks for cluster mode (Shared).
	shared func(p P) bool
}

// provisionals are the live actors of a family created with its placeholder
// configuration: each maps to the configuration of the first policy that named it, nil
// until then. Only the supervisor actor writes them; callers read them on the path of
// Resolve, at the cost of one atomic load while there are none.
type provisionals[L comparable, P any] struct {
	n atomic.Int64
	m sync.Map // L → *atomic.Pointer[P]
}

// get returns the adopted configuration of l, and whether l is provisional.
func (ps *provisionals[L, P]) get(l L) (*atomic.Pointer[P], bool) {
	if ps.n.Load() == 0 {
		return nil, false
	}
	v, ok := ps.m.Load(l)
	if !ok {
		return nil, false
	}
	return v.(*atomic.Pointer[P]), true
}

func (ps *provisionals[L, P]) add(l L) {
	ps.m.Store(l, new(atomic.Pointer[P]))
	ps.n.Add(1)
}

func (ps *provisionals[L, P]) drop(l L) {
	if _, ok := ps.m.LoadAndDelete(l); ok {
		ps.n.Add(-1)
	}
}

// origin returns the configuration l stands for: the one it was created with, or for a
// provisional actor the first policy's; ok is false for a provisional actor no policy
// has named yet.
func (f *Family[L, P, S]) origin(l L) (p P, ok bool) {
	if a, prov := f.provisional.get(l); prov {
		if q := a.Load(); q != nil {
			return *q, true
		}
		return p, false
	}
	return l.Origin(), true
}

// Kind names the family: "breaker" or "limiter".
func (f *Family[L, P, S]) Kind() string { return f.kind }

// Get returns the published link named name, or the zero L.
func (f *Family[L, P, S]) Get(name string) L { return f.links.Get(name) }

// Live returns a copy of the published name → link map, for tests and diagnostics.
func (f *Family[L, P, S]) Live() map[string]L {
	out := map[string]L{}
	f.links.Range(func(name string, l L) bool {
		out[name] = l
		return true
	})
	return out
}

// Remembered returns how many passivated names keep a configuration, and how many
// distinct configurations they share; only for tests, while the supervisor is idle.
func (f *Family[L, P, S]) Remembered() (names, configs int) {
	return len(f.configs.byName), len(f.configs.table)
}

// Stats returns the stats of every live actor of the family by name.
func (f *Family[L, P, S]) Stats() map[string]S {
	out := map[string]S{}
	f.links.Range(func(name string, l L) bool {
		if f.published(l) {
			out[name] = l.Stats()
		}
		return true
	})
	return out
}

// Describe sends the descriptions of the family's per-name series.
func (f *Family[L, P, S]) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range f.descs {
		ch <- d
	}
}

// Collect sends the family's series of every live actor and reports each to actor.
func (f *Family[L, P, S]) Collect(ch chan<- prometheus.Metric, actor func(kind, name string, depth int64, restarts uint64)) {
	emit := emitter{ch}
	f.links.Range(func(name string, l L) bool {
		if !f.published(l) {
			return true
		}
		f.series(emit, name, l.Stats())
		actor(f.kind, name, l.MailboxDepth(), l.Restarts())
		return true
	})
}

// perName describes a family's series with the label name, then labels.
func perName(metric, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(metric, help, append([]string{"name"}, labels...), nil)
}

// emitter sends constant metrics.
type emitter struct{ ch chan<- prometheus.Metric }

func (e emitter) counter(desc *prometheus.Desc, v uint64, labels ...string) {
	e.ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
}

func (e emitter) gauge(desc *prometheus.Desc, v float64, labels ...string) {
	e.ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
}

// warnIfOther logs, once per name, that p names an actor configured otherwise.
func (f *Family[L, P, S]) warnIfOther(name string, config, p P) {
	if f.unnamed(config) != f.unnamed(p) {
		f.r.cfg.Warn.Once("config:"+f.kind+":"+name, "a policy names a breaker or limiter that exists with other thresholds; the first configuration wins",
			zap.String("name", name), zap.Stringer("ignored", p))
	}
}

// scan asks every idle, unregistered actor of the family to passivate.
func (f *Family[L, P, S]) scan(c actor.Context, cutoff time.Time) {
	f.links.Range(func(_ string, l L) bool {
		if !l.Registered() && !l.Retired() && l.IdleSince().Before(cutoff) {
			c.Request(l.PID(), &messages.Passivate{})
		}
		return true
	})
}

// forget drops l, a stopped actor named name, from the published map and remembers its
// configuration unless the name is live again or the engine is shutting down.
func (f *Family[L, P, S]) forget(name string, l L) {
	var zero L
	f.links.Delete(name, l)
	origin, ok := f.origin(l)
	f.provisional.drop(l)
	if ok && !f.r.cfg.Closed() && !l.Registered() && f.links.Get(name) == zero {
		f.configs.remember(name, f.unnamed(origin))
	}
	if ce := f.r.cfg.Log.Check(zap.DebugLevel, f.kind+" stopped"); ce != nil {
		ce.Write(zap.String(f.kind, name))
	}
}

// linkMap is a family's published name → link map. Callers read it without locks on
// every call that names an actor by operation ID; only the supervisor actor writes it,
// one entry at a time, so creating or dropping the n-th name costs the same as the
// first (a copy-on-write map would copy all n).
type linkMap[L comparable] struct {
	m sync.Map // string → L
}

// Get returns the link named name, or the zero L.
func (lm *linkMap[L]) Get(name string) L {
	var zero L
	if v, ok := lm.m.Load(name); ok {
		return v.(L)
	}
	return zero
}

// Store publishes l under name, replacing any older link.
func (lm *linkMap[L]) Store(name string, l L) { lm.m.Store(name, l) }

// Delete drops name if it still maps to l.
func (lm *linkMap[L]) Delete(name string, l L) { lm.m.CompareAndDelete(name, l) }

// Range calls f for every published link until f returns false.
func (lm *linkMap[L]) Range(f func(name string, l L) bool) {
	lm.m.Range(func(k, v any) bool { return f(k.(string), v.(L)) })
}

// configMemory maps passivated names to their configurations. The configurations are
// interned — names configured alike share one entry of the table — so a passivated name
// costs one small map entry (about 50 bytes with its name), not a policy value. A name's
// configuration is the one thing the engine keeps once its actor is gone.
type configMemory[P comparable] struct {
	byName map[string]uint32 // passivated name → index in table
	table  []P               // distinct configurations, without their Name
	index  map[P]uint32      // configuration → index in table
}

func newConfigMemory[P comparable]() configMemory[P] {
	return configMemory[P]{byName: map[string]uint32{}, index: map[P]uint32{}}
}

// remember records p as the configuration of the passivated name.
func (m *configMemory[P]) remember(name string, p P) {
	i, ok := m.index[p]
	if !ok {
		i = uint32(len(m.table))
		m.table = append(m.table, p)
		m.index[p] = i
	}
	m.byName[name] = i
}

// take returns the configuration remembered for name, if any, and forgets it: the
// name's new actor holds it from now on.
func (m *configMemory[P]) take(name string) (p P, ok bool) {
	i, ok := m.byName[name]
	if !ok {
		return p, false
	}
	delete(m.byName, name)
	return m.table[i], true
}
