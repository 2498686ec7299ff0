package supervisor

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
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
	failureLevel zapcore.Level
	classifiers  []namedClassifier
	observer     Observer
}

// namedClassifier is a WithClassifier option's registration.
type namedClassifier struct {
	name string
	fn   policy.Classifier
}

// WithClassifier registers fn as the outcome classifier name, for policies that name it
// (CircuitBreakerPolicy.Classifier); see Engine.RegisterClassifier. A later option with
// the same name wins. The built-in names "" and "default", a name that is not valid
// UTF-8, and a nil fn are errors matching policy.ErrInvalidPolicy.
func WithClassifier(name string, fn policy.Classifier) Option {
	return func(c *config) error {
		if err := pipeline.CheckClassifier(name, fn); err != nil {
			return err
		}
		c.classifiers = append(c.classifiers, namedClassifier{name, fn})
		return nil
	}
}

// WithLogger sends the engine's logs, and the logs of an actor system the engine
// creates, to l. The default is zap.NewNop(): nothing is logged. A nil l is an error.
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return pipeline.Invalid("", "WithLogger: logger is nil")
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
			return pipeline.Invalid("", "WithActorSystem: system is nil")
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
			return pipeline.Invalid("", fmt.Sprintf("WithIdleTimeout: must be ≥ 0, got %v", d))
		}
		c.idleTimeout = d
		return nil
	}
}

// WithMailboxLimit bounds the messages queued for any one breaker or limiter actor:
// past n, a call that needs to ask that actor fails at once with an error matching
// policy.ErrOverloaded instead of queueing without bound. A closed breaker's failure
// reports past n share one message instead of one each; such a call already ran and
// returns its own error once the breaker has counted it. Zero, the default, means no
// limit. A negative n is an error.
func WithMailboxLimit(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return pipeline.Invalid("", fmt.Sprintf("WithMailboxLimit: must be ≥ 0, got %d", n))
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
			return pipeline.Invalid("", fmt.Sprintf("WithWorkers: must be ≥ 1, got %d", n))
		}
		c.workers = n
		return nil
	}
}

// WithFailureLogLevel sets the level of the "operation failed" line logged for an
// ordinary failed operation (default Warn): a service that sees failures as routine can
// choose Info or Debug, one that alerts on them Error. Whatever the level, a critical
// operation's failure is logged at Error, and the caller's own failures (a Permanent
// error, the caller's cancellation) and fast refusals by an open breaker or an empty
// limiter at Debug; a panic is logged once, at Error, as "operation panicked". level
// must be one of Debug, Info, Warn and Error; others are an error.
func WithFailureLogLevel(level zapcore.Level) Option {
	return func(c *config) error {
		if level < zapcore.DebugLevel || level > zapcore.ErrorLevel {
			return pipeline.Invalid("", fmt.Sprintf("WithFailureLogLevel: must be debug, info, warn or error, got %v", level))
		}
		c.failureLevel = level
		return nil
	}
}
