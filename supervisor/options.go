package supervisor

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// Option configures an Engine; pass options to New. Options have no side effects until
// New runs.
type Option func(*config) error

type config struct {
	logger       *zap.Logger
	system       *actor.ActorSystem
	idleTimeout  time.Duration
	mailboxLimit int
	histogram    bool
	workers      int
}

// WithLogger sends the engine's logs, and the logs of an actor system the engine
// creates, to l. The default is zap.NewNop(): nothing is logged. A nil l is an error.
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: supervisor: WithLogger: logger is nil", policy.ErrInvalidPolicy)
		}
		c.logger = l
		return nil
	}
}

// WithActorSystem embeds the engine into an existing actor system instead of creating
// one. Shutdown stops the engine's actors but leaves the system running. A nil sys is an
// error.
func WithActorSystem(sys *actor.ActorSystem) Option {
	return func(c *config) error {
		if sys == nil {
			return fmt.Errorf("%w: supervisor: WithActorSystem: system is nil", policy.ErrInvalidPolicy)
		}
		c.system = sys
		return nil
	}
}

// WithIdleTimeout passivates named breakers and limiters that were not registered with
// RegisterCircuitBreaker or RegisterRateLimiter once they have been idle for d (a
// closed breaker with no pending failures and no call in flight, a full bucket with
// nobody waiting): the actor stops, its metric series go, and it is created again on
// its next use, with the configuration of the policy that first used the name. The
// engine keeps only that configuration of a passivated name (one small map entry).
// Zero, the default, keeps every actor until Shutdown. A negative d is an error.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: supervisor: WithIdleTimeout: must be ≥ 0, got %v", policy.ErrInvalidPolicy, d)
		}
		c.idleTimeout = d
		return nil
	}
}

// WithMailboxLimit bounds the messages queued for any one breaker or limiter actor:
// past n, a call that needs to ask that actor fails at once with an error matching
// policy.ErrOverloaded instead of queueing without bound. Zero, the default, means no
// limit. A negative n is an error.
func WithMailboxLimit(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: supervisor: WithMailboxLimit: must be ≥ 0, got %d", policy.ErrInvalidPolicy, n)
		}
		c.mailboxLimit = n
		return nil
	}
}

// WithDurationHistogram makes the engine record every operation's duration in a
// histogram exported by Collector as bulwark_operation_duration_seconds. It is off by
// default because it costs two clock reads per call.
func WithDurationHistogram() Option {
	return func(c *config) error {
		c.histogram = true
		return nil
	}
}

// WithWorkers sets how many long-lived goroutines run the engine's actors (default:
// 2 × GOMAXPROCS, at least 4). They stop at Shutdown. n < 1 is an error.
func WithWorkers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: supervisor: WithWorkers: must be ≥ 1, got %d", policy.ErrInvalidPolicy, n)
		}
		c.workers = n
		return nil
	}
}
