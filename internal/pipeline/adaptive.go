package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/registry"
	"github.com/bulwark-go/bulwark/policy"
)

// adaptiveStage holds a permit of a named adaptive limit while the rest of the pipeline
// runs, as a bulkhead stage does, and gives the limit one sample per completed call.
type adaptiveStage struct {
	policy policy.AdaptiveLimitPolicy
	cached atomic.Pointer[actors.AdaptiveLink] // the resolved actor of a named limit
}

func (*adaptiveStage) isStage() {}

func compileAdaptive(p policy.AdaptiveLimitPolicy) *adaptiveStage {
	return &adaptiveStage{policy: p}
}

// permitLink resolves the adaptive limit for c, from the stage's cache when the policy
// names it, and returns the bulkhead link that holds its permits.
func (s *adaptiveStage) permitLink(c *Call) (*actors.BulkheadLink, error) {
	name := s.policy.Name
	if name != "" {
		if l := s.cached.Load(); l != nil && !l.Retired() {
			return l.Bulkhead(), nil
		}
	}
	l, err := c.env.Registry.AdaptiveLimits.Resolve(c.caller, registry.Caller{Op: c.id, Attempts: c.attempts}, c.key(name), s.policy, false)
	if err != nil {
		return nil, err
	}
	if name != "" {
		s.cached.Store(l)
	}
	return l.Bulkhead(), nil
}

// runAdaptive takes a permit of the adaptive limit (the bulkhead's fast and slow paths,
// queue and refusal), runs the rest of the pipeline, records the call's sample — two
// clock reads and one atomic add — and gives the permit back when the function really
// returned (see orphan). A function that unwinds through runtime.Goexit gives no sample.
func runAdaptive[T any](ctx context.Context, c *Call, s *adaptiveStage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	l, err := c.acquirePermit(ctx, permitSource{adaptive: s}, "adaptive_limit")
	if err != nil {
		return v, err
	}
	prev := c.orphan
	c.orphan = nil
	defer c.releasePermit(l, prev)
	start := time.Now()
	v, err = run(ctx, c, rest, fn)
	end := time.Now()
	l.Record(adaptiveSample(ctx, err), end.Sub(start), end, c.env.Outbox)
	return v, err
}

// adaptiveSample classifies a completed call for an adaptive limit (AL-1): a success is
// an RTT sample; ErrTimeout, a deadline the caller did not set, or an error carrying a
// RetryAfter that no stage's refusal put there is a drop; the caller's cancellation,
// other stages' refusals and other errors are ignored.
func adaptiveSample(ctx context.Context, err error) actors.SampleKind {
	switch {
	case err == nil:
		return actors.SampleSuccess
	case ctx.Err() != nil:
		return actors.SampleIgnored
	case errors.Is(err, policy.ErrTimeout):
		return actors.SampleDrop
	}
	if pe, ok := err.(*policy.Error); ok && pe.Kind != nil && policy.IsRefusal(pe.Kind) {
		return actors.SampleIgnored
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return actors.SampleDrop
	}
	if _, ok := policy.RetryAfter(err); ok {
		return actors.SampleDrop
	}
	return actors.SampleIgnored
}
