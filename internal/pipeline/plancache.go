package pipeline

import (
	"sync/atomic"
	"unsafe"

	"github.com/bulwark-go/bulwark/policy"
)

// planCache maps the identity of a boxed policy (both words of the interface value) to
// its plan. It is direct-mapped and lock-free: a lookup is one atomic load and two
// pointer compares; a collision replaces the older plan. A plan holds its policy value,
// so the address it is keyed by cannot be reused while it is cached. This is the only
// unsafe code of the module (with boxedRetry and typeWord below): it lets ExecuteWithPolicy with a
// hoisted policy skip the compile, where Prepare is the explicit way.
type planCache struct {
	slots [planSlots]atomic.Pointer[cachedPlan]
}

const planSlots = 1024

// cachedPlan is a plan under the identity of the boxed policy it was compiled from.
type cachedPlan struct {
	typ unsafe.Pointer // the interface's type word: two boxed values of different
	key unsafe.Pointer // types may share an address (zero values, equal constants)
	gen uint64         // the classifier registrations it was compiled under
	Plan
}

// words returns the two words of an interface value: its type and its data pointer.
func words(p policy.Policy) (typ, data unsafe.Pointer) {
	w := (*[2]unsafe.Pointer)(unsafe.Pointer(&p))
	return w[0], w[1]
}

// boxedRetry returns the RetryPolicy p holds, in place: p's dynamic type must be
// policy.RetryPolicy, which is larger than a word and so boxed behind its data word.
// The direct path reads a few fields of it without copying the struct out.
func boxedRetry(p policy.Policy) *policy.RetryPolicy {
	_, data := words(p)
	return (*policy.RetryPolicy)(data)
}

// typeWord returns the type word of an interface value: for any((*T)(nil)), an
// identity of T that costs one load (a fallback stage's per-type cache compares it).
func typeWord(v any) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[0]
}

// get returns the plan of p on env, compiling it on a miss. An invalid plan compiled
// before a classifier registration is compiled again: the name it lacked may exist now
// (names are checked at compile, and again when a registration changes).
func (pc *planCache) get(env *Env, p policy.Policy) *Plan {
	typ, key := words(p)
	slot := &pc.slots[(uintptr(key)>>4^uintptr(key)>>14^uintptr(typ)>>5)%planSlots]
	if cp := slot.Load(); cp != nil && cp.key == key && cp.typ == typ && (cp.err == nil || cp.gen == env.Classifiers.gen.Load()) {
		return &cp.Plan
	}
	cp := &cachedPlan{typ: typ, key: key, gen: env.Classifiers.gen.Load()}
	compileInto(env, &cp.Plan, p)
	slot.Store(cp)
	return &cp.Plan
}
