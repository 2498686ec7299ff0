package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// FailMode says what a shared name does while its owner does not answer.
type FailMode int

// The fail modes.
const (
	// FailLocalShare (the default): each node runs on its own share of the fleet's
	// limit — a local bucket of rate R/N and burst max(1, B/N), N the members it last
	// saw — and a local breaker with the same thresholds, seeded with the last view (an
	// open breaker stays open until its open-until).
	FailLocalShare FailMode = iota
	// FailOpen: no limit and a closed breaker (every call admitted) until the owner
	// answers again; unbounded.
	FailOpen
	// FailClosed: every call refused, with policy.ErrRateLimited or
	// policy.ErrCircuitOpen and RetryAfter = OwnerTimeout.
	FailClosed
)

// String names the mode: "local_share", "open", "closed".
func (m FailMode) String() string {
	switch m {
	case FailLocalShare:
		return "local_share"
	case FailOpen:
		return "open"
	case FailClosed:
		return "closed"
	}
	return "unknown"
}

// Option configures Start, Attach and Kinds.
type Option func(*options) error

type options struct {
	host           string
	port           int
	ownerTimeout   time.Duration
	leaseTTL       time.Duration
	leaseSize      int
	holdMax        time.Duration
	holdSet        bool
	reportInterval time.Duration
	viewRefresh    time.Duration
	failMode       FailMode
	logger         *slog.Logger
	requestTimeout time.Duration
	heartbeat      time.Duration
}

func defaults() options {
	return options{
		host: "127.0.0.1", ownerTimeout: 250 * time.Millisecond, leaseTTL: time.Second,
		reportInterval: 100 * time.Millisecond, viewRefresh: time.Second,
		logger: slog.New(slog.DiscardHandler), requestTimeout: time.Second, heartbeat: 2 * time.Second,
	}
}

// build applies opts over the defaults.
func build(opts []Option) (options, error) {
	o := defaults()
	for i, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("cluster: option %d is nil", i)
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	if !o.holdSet {
		o.holdMax = max(0, o.ownerTimeout-50*time.Millisecond)
	}
	if o.holdMax >= o.ownerTimeout {
		return o, fmt.Errorf("cluster: WithHoldMax %v must be shorter than the owner timeout %v", o.holdMax, o.ownerTimeout)
	}
	return o, nil
}

func positive(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("cluster: %s must be > 0, got %v", name, d)
	}
	return nil
}

// WithAddress sets the host and port Start's member listens on (default 127.0.0.1 and
// 0, a free port).
func WithAddress(host string, port int) Option {
	return func(o *options) error {
		if host == "" || port < 0 || port > 65535 {
			return fmt.Errorf("cluster: WithAddress: bad address %q:%d", host, port)
		}
		o.host, o.port = host, port
		return nil
	}
}

// WithOwnerTimeout sets how long a shared name waits for its owner's answer before it
// runs on its fail mode (default 250ms). No caller ever waits on the owner.
func WithOwnerTimeout(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithOwnerTimeout", d); err != nil {
			return err
		}
		o.ownerTimeout = d
		return nil
	}
}

// WithLeaseTTL sets how long a node uses a lease of tokens, counted from before it
// asked (default 1s); the owner counts the tokens for 200ms more.
func WithLeaseTTL(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithLeaseTTL", d); err != nil {
			return err
		}
		o.leaseTTL = d
		return nil
	}
}

// WithLeaseSize sets how many tokens a node asks for at a time (default
// max(1, min(Burst/(2N), ceil(rate·50ms/N))) for N members).
func WithLeaseSize(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("cluster: WithLeaseSize must be ≥ 1, got %d", n)
		}
		o.leaseSize = n
		return nil
	}
}

// WithHoldMax sets how long the owner keeps a lease request it cannot serve yet, FIFO,
// before it answers "nothing" (default OwnerTimeout − 50ms); it must be shorter than the
// owner timeout.
func WithHoldMax(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return errors.New("cluster: WithHoldMax must be ≥ 0")
		}
		o.holdMax, o.holdSet = d, true
		return nil
	}
}

// WithReportInterval sets how often a node sends the successes it counted to a shared
// breaker's owner (default 100ms); failures go at once.
func WithReportInterval(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithReportInterval", d); err != nil {
			return err
		}
		o.reportInterval = d
		return nil
	}
}

// WithViewRefresh sets after how long without a word from a shared breaker's owner a
// node asks for its view (default 1s): the safety net under the owner's pushes.
func WithViewRefresh(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithViewRefresh", d); err != nil {
			return err
		}
		o.viewRefresh = d
		return nil
	}
}

// WithFailMode sets what shared names do while their owner does not answer (default
// FailLocalShare).
func WithFailMode(m FailMode) Option {
	return func(o *options) error {
		if m < FailLocalShare || m > FailClosed {
			return fmt.Errorf("cluster: WithFailMode: unknown mode %d", int(m))
		}
		o.failMode = m
		return nil
	}
}

// WithLogger sends the logs of the actor system Start creates to l (default: none).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("cluster: WithLogger: logger is nil")
		}
		o.logger = l
		return nil
	}
}

// WithHeartbeatExpiration sets protoactor's gossip heartbeat expiration for the member
// Start creates (default 2s).
func WithHeartbeatExpiration(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithHeartbeatExpiration", d); err != nil {
			return err
		}
		o.heartbeat = d
		return nil
	}
}
