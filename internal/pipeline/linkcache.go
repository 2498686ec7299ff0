package pipeline

import (
	"sync/atomic"

	"github.com/bulwark-go/bulwark/internal/registry"
)

// resolveLink is the registry path a stage's link takes when its cache holds no live
// link: it resolves the actor name of family f for c, configured by p, and with cached
// (the stage's policy names its actor, so every call resolves the same one) keeps what
// it returns in cache. The breaker, limiter, bulkhead and budget stages share it; each
// keeps its cache test inline, as the generic one would cost a call on the hot path.
func resolveLink[E any, L interface {
	*E
	registry.Link[P, S]
}, P registry.Config, S any](c *Call, f *registry.Family[L, P, S], cache *atomic.Pointer[E], cached bool, name string, p P) (L, error) {
	l, err := f.Resolve(c.caller, registry.Caller{Op: c.id, Attempts: c.attempts}, name, p, false)
	if err == nil && cached {
		cache.Store((*E)(l))
	}
	return l, err
}
