package supervisor

import "sync"

// linkMap is the published name → link map of breakers or limiters. Callers read it
// without locks on every call that names an actor by operation ID; only the supervisor
// actor writes it, one entry at a time, so creating or dropping the n-th name costs the
// same as the first (a copy-on-write map would copy all n).
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

// Load returns a snapshot copy of the map, for tests and diagnostics.
func (lm *linkMap[L]) Load() *map[string]L {
	out := map[string]L{}
	lm.Range(func(name string, l L) bool {
		out[name] = l
		return true
	})
	return &out
}
