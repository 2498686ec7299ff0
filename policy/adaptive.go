package policy

import (
	"math"
	"strconv"
	"time"
)

// The adaptive limit's algorithms, as AdaptiveLimitPolicy.Algorithm names them.
const (
	AlgorithmAIMD      = "aimd"
	AlgorithmGradient2 = "gradient2"
	AlgorithmVegas     = "vegas"
)

// Defaults of an AdaptiveLimitPolicy's zero fields (Netflix concurrency-limits' own:
// AIMDLimit, Gradient2Limit, VegasLimit and WindowedLimit).
const (
	DefaultAdaptiveWindow       = time.Second
	DefaultAdaptiveMinSamples   = 10
	DefaultAdaptiveTimeout      = 5 * time.Second
	DefaultAdaptiveBackoffRatio = 0.9
)

// AdaptiveLimitPolicy is a bulkhead whose limit an actor moves: it admits a call when
// fewer calls than the published limit are running, queues or refuses the others with
// ErrConcurrencyLimited exactly as a BulkheadPolicy does (MaxQueue, MaxWait), and after
// every sampling window (at least Window long, at least MinSamples samples) feeds the
// window's average RTT, maximum in-flight count and drops to the algorithm, which
// returns the new limit. A success is an RTT sample; ErrTimeout, a deadline the caller
// did not set, or an error carrying a RetryAfter from inside the stage is a drop;
// anything else is ignored. Zero fields take the algorithm's defaults, resolved when the
// policy is compiled; String and JSON leave them out. The value is immutable and safe to
// share between goroutines.
type AdaptiveLimitPolicy struct {
	// Name selects the adaptive limit actor; "" means the operation's ID, else "default".
	// Adaptive limits have their own namespace of names.
	Name string
	// Algorithm is "aimd", "gradient2" or "vegas".
	Algorithm string
	// Initial, Min and Max bound the limit: Min ≤ Initial ≤ Max ≤ MaxBulkhead once
	// resolved; 0 takes the algorithm's default (aimd and gradient2 20/20/200, vegas
	// 20/1/1000).
	Initial, Min, Max int
	// Window is the shortest sampling window; 0 means 1s.
	Window time.Duration
	// MinSamples is how many samples close a window; 0 means 10.
	MinSamples int
	// Timeout (aimd only) makes an RTT above it a drop; 0 means 5s.
	Timeout time.Duration
	// BackoffRatio (aimd only) multiplies the limit after a drop, in [0.5, 1); 0 means 0.9.
	BackoffRatio float64
	// MaxQueue is how many calls may wait for a permit; 0 refuses at once when full.
	MaxQueue int
	// MaxWait is the longest a call waits in the queue; 0 (with MaxQueue > 0) waits until
	// the caller's context ends. It must be 0 when MaxQueue is.
	MaxWait time.Duration
}

func (AdaptiveLimitPolicy) isPolicy() {}

// AdaptiveLimit returns an AdaptiveLimitPolicy running algorithm ("aimd", "gradient2" or
// "vegas") with every other field at its default.
func AdaptiveLimit(algorithm string) AdaptiveLimitPolicy {
	return AdaptiveLimitPolicy{Algorithm: algorithm}
}

// Named returns a copy of p that uses the adaptive limit actor called name.
func (p AdaptiveLimitPolicy) Named(name string) AdaptiveLimitPolicy {
	p.Name = name
	return p
}

// WithLimits returns a copy of p with the given initial, minimum and maximum limit (0:
// the algorithm's default).
func (p AdaptiveLimitPolicy) WithLimits(initial, minimum, maximum int) AdaptiveLimitPolicy {
	p.Initial, p.Min, p.Max = initial, minimum, maximum
	return p
}

// WithQueue returns a copy of p in which up to n calls wait for a permit, each for at
// most maxWait (0: until its context ends).
func (p AdaptiveLimitPolicy) WithQueue(n int, maxWait time.Duration) AdaptiveLimitPolicy {
	p.MaxQueue, p.MaxWait = n, maxWait
	return p
}

// Limits returns the initial, minimum and maximum limit with the algorithm's defaults
// in place of zero fields.
func (p AdaptiveLimitPolicy) Limits() (initial, minimum, maximum int) {
	initial, minimum, maximum = 20, 20, 200
	if p.Algorithm == AlgorithmVegas {
		minimum, maximum = 1, 1000
	}
	if p.Initial != 0 {
		initial = p.Initial
	}
	if p.Min != 0 {
		minimum = p.Min
	}
	if p.Max != 0 {
		maximum = p.Max
	}
	return initial, minimum, maximum
}

// Sampling returns Window, MinSamples, Timeout and BackoffRatio with defaults in place of
// zero fields.
func (p AdaptiveLimitPolicy) Sampling() (window time.Duration, minSamples int, timeout time.Duration, backoffRatio float64) {
	window, minSamples, timeout, backoffRatio = DefaultAdaptiveWindow, DefaultAdaptiveMinSamples, DefaultAdaptiveTimeout, DefaultAdaptiveBackoffRatio
	if p.Window != 0 {
		window = p.Window
	}
	if p.MinSamples != 0 {
		minSamples = p.MinSamples
	}
	if p.Timeout != 0 {
		timeout = p.Timeout
	}
	if p.BackoffRatio != 0 {
		backoffRatio = p.BackoffRatio
	}
	return window, minSamples, timeout, backoffRatio
}

// Validate checks that Algorithm is known; Initial, Min and Max are ≥ 0 and, resolved,
// 1 ≤ Min ≤ Initial ≤ Max ≤ MaxBulkhead; Window, Timeout and MaxWait are ≥ 0;
// MinSamples ≥ 0; BackoffRatio is 0 or in [0.5, 1); Timeout and BackoffRatio are only
// set with "aimd"; 0 ≤ MaxQueue ≤ MaxBulkhead and MaxWait only with a queue; and that
// Name is valid UTF-8.
func (p AdaptiveLimitPolicy) Validate() error {
	const c = "adaptive_limit"
	var algo error
	switch p.Algorithm {
	case AlgorithmAIMD, AlgorithmGradient2, AlgorithmVegas:
	default:
		algo = invalidField(c, "Algorithm", `"aimd", "gradient2" or "vegas"`, p.Algorithm)
	}
	initial, minimum, maximum := p.Limits()
	r := p.BackoffRatio
	return first(
		algo,
		atLeast(c, "Initial", p.Initial, 0),
		atLeast(c, "Min", p.Min, 0),
		atLeast(c, "Max", p.Max, 0),
		atMost(c, "Max", maximum, MaxBulkhead, "MaxBulkhead", "an adaptive limit counts its permits in 30 bits"),
		atMost(c, "Min", minimum, maximum, "Max", "the limit stays in [Min, Max]"),
		atLeast(c, "Initial", initial, minimum),
		atMost(c, "Initial", initial, maximum, "Max", "the limit stays in [Min, Max]"),
		notNegative(c, "Window", p.Window),
		atLeast(c, "MinSamples", p.MinSamples, 0),
		notNegative(c, "Timeout", p.Timeout),
		holds(r == 0 || (r >= 0.5 && r < 1 && !math.IsNaN(r)), c, "BackoffRatio", "0 or in [0.5, 1)", r),
		aimdOnly(p.Algorithm, p.Timeout != 0, "Timeout", p.Timeout),
		aimdOnly(p.Algorithm, r != 0, "BackoffRatio", r),
		atLeast(c, "MaxQueue", p.MaxQueue, 0),
		atMost(c, "MaxQueue", p.MaxQueue, MaxBulkhead, "MaxBulkhead", "an adaptive limit counts its waiters in 30 bits"),
		notNegative(c, "MaxWait", p.MaxWait),
		queueOnly(p.MaxQueue, p.MaxWait != 0, "MaxWait", p.MaxWait),
		validName(c, p.Name),
	)
}

// aimdOnly refuses field, set to v, for an algorithm other than AIMD, which ignores it.
func aimdOnly(algorithm string, set bool, field string, v any) error {
	if !set || algorithm == AlgorithmAIMD || algorithm == "" {
		return nil
	}
	return invalidField("adaptive_limit", field, `unset unless Algorithm is "aimd" (`+strconv.Quote(algorithm)+" does not use it)", v)
}

// String returns `adaptive_limit("aimd")`, followed by ".named(...)", ".limits(I, M, X)",
// ".window(D, N)", ".timeout(D)", ".backoff_ratio(R)" and ".queue(Q, D)" for the fields
// that are set: adaptive_limit("gradient2").named("db").
func (p AdaptiveLimitPolicy) String() string {
	s := "adaptive_limit(" + strconv.Quote(p.Algorithm) + ")" + named(p.Name)
	if p.Initial != 0 || p.Min != 0 || p.Max != 0 {
		s += chained("limits", strconv.Itoa(p.Initial)+", "+strconv.Itoa(p.Min)+", "+strconv.Itoa(p.Max))
	}
	if p.Window != 0 || p.MinSamples != 0 {
		s += chained("window", p.Window.String()+", "+strconv.Itoa(p.MinSamples))
	}
	if p.Timeout != 0 {
		s += chained("timeout", p.Timeout.String())
	}
	if p.BackoffRatio != 0 {
		s += chained("backoff_ratio", formatFloat(p.BackoffRatio))
	}
	if p.MaxQueue != 0 || p.MaxWait != 0 {
		s += chained("queue", strconv.Itoa(p.MaxQueue)+", "+p.MaxWait.String())
	}
	return s
}

// adaptiveLimitJSON is an AdaptiveLimitPolicy's JSON document.
type adaptiveLimitJSON struct {
	Type         string   `json:"type"`
	Algorithm    string   `json:"algorithm"`
	Name         string   `json:"name,omitempty"`
	Initial      int      `json:"initial,omitempty"`
	Min          int      `json:"min,omitempty"`
	Max          int      `json:"max,omitempty"`
	Window       duration `json:"window,omitempty"`
	MinSamples   int      `json:"min_samples,omitempty"`
	Timeout      duration `json:"timeout,omitempty"`
	BackoffRatio float64  `json:"backoff_ratio,omitempty"`
	MaxQueue     int      `json:"max_queue,omitempty"`
	MaxWait      duration `json:"max_wait,omitempty"`
}

func encodeAdaptive(p AdaptiveLimitPolicy) (any, error) {
	return adaptiveLimitJSON{"adaptive_limit", p.Algorithm, p.Name, p.Initial, p.Min, p.Max, duration(p.Window),
		p.MinSamples, duration(p.Timeout), p.BackoffRatio, p.MaxQueue, duration(p.MaxWait)}, nil
}

func decodeAdaptive(data []byte, _ int) (AdaptiveLimitPolicy, error) {
	return decodeAs(data, func(w adaptiveLimitJSON) AdaptiveLimitPolicy {
		return AdaptiveLimitPolicy{Name: w.Name, Algorithm: w.Algorithm, Initial: w.Initial, Min: w.Min, Max: w.Max,
			Window: time.Duration(w.Window), MinSamples: w.MinSamples, Timeout: time.Duration(w.Timeout),
			BackoffRatio: w.BackoffRatio, MaxQueue: w.MaxQueue, MaxWait: time.Duration(w.MaxWait)}
	})
}

// MarshalJSON writes {"type":"adaptive_limit","algorithm":"gradient2","name":"db",...},
// leaving out zero fields. It fails for an invalid policy.
func (p AdaptiveLimitPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }
