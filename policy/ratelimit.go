package policy

import (
	"math"
	"strconv"
	"time"
)

// maxDefaultBurst caps the default burst, so a huge RequestsPerSecond never overflows int.
const maxDefaultBurst = 1 << 30

// RateLimitPolicy admits calls through a token bucket that refills at RequestsPerSecond
// tokens a second and holds Burst tokens. With no token, a call is rejected with
// ErrRateLimited at once (MaxWait 0) or waits in line up to MaxWait. RequestsPerSecond has
// no default (zero is invalid); a zero Burst means ceil(RequestsPerSecond); an empty Name
// means the operation's ID, else "default". The value is immutable and safe to share
// between goroutines.
type RateLimitPolicy struct {
	// Name selects the limiter actor; "" means the operation's ID, else "default". It must
	// be valid UTF-8.
	Name string
	// RequestsPerSecond is the refill rate in tokens a second; finite and > 0.
	RequestsPerSecond float64
	// Burst is the bucket's capacity in tokens; 0 means ceil(RequestsPerSecond).
	Burst int
	// MaxWait is the longest a call waits for a token; 0 rejects at once.
	MaxWait time.Duration
	// Shared asks cluster mode for one limit of this name for the whole fleet; without a
	// cluster the limiter is local.
	Shared bool
}

func (RateLimitPolicy) isPolicy() {}

// RateLimit returns a RateLimitPolicy of requestsPerSecond with Burst set to
// ceil(requestsPerSecond), at least 1 and at most 1<<30.
func RateLimit(requestsPerSecond float64) RateLimitPolicy {
	p := RateLimitPolicy{RequestsPerSecond: requestsPerSecond}
	p.Burst = p.EffectiveBurst()
	return p
}

// Named returns a copy of p that uses the limiter actor called name.
func (p RateLimitPolicy) Named(name string) RateLimitPolicy {
	p.Name = name
	return p
}

// WithBurst returns a copy of p whose bucket holds n tokens.
func (p RateLimitPolicy) WithBurst(n int) RateLimitPolicy {
	p.Burst = n
	return p
}

// WithMaxWait returns a copy of p in which a call waits up to d for a token.
func (p RateLimitPolicy) WithMaxWait(d time.Duration) RateLimitPolicy {
	p.MaxWait = d
	return p
}

// AsShared returns a copy of p that asks cluster mode for one limit of its name for the
// whole fleet; without a cluster the limiter is local.
func (p RateLimitPolicy) AsShared() RateLimitPolicy {
	p.Shared = true
	return p
}

// EffectiveBurst returns the bucket's capacity in tokens: Burst when it is set, otherwise
// ceil(RequestsPerSecond), clamped to [1, 1<<30] (1 when the rate is not a positive number).
func (p RateLimitPolicy) EffectiveBurst() int {
	if p.Burst != 0 {
		return p.Burst
	}
	rps := p.RequestsPerSecond
	switch {
	case !(rps > 0): // zero, negative or NaN
		return 1
	case rps >= maxDefaultBurst:
		return maxDefaultBurst
	}
	return int(math.Ceil(rps))
}

// Validate checks RequestsPerSecond is finite and > 0, Burst ≥ 0, MaxWait ≥ 0 and that Name
// is valid UTF-8.
func (p RateLimitPolicy) Validate() error {
	const c = "rate_limit"
	rps := p.RequestsPerSecond
	return first(
		holds(rps > 0 && !math.IsInf(rps, 1), c, "RequestsPerSecond", "a finite number > 0", rps),
		atLeast(c, "Burst", p.Burst, 0),
		notNegative(c, "MaxWait", p.MaxWait),
		validName(c, p.Name),
	)
}

// String returns "rate_limit(R)", followed by ".named(...)" when Name is set,
// ".burst(N)" when Burst is set and differs from ceil(R), ".max_wait(D)" when MaxWait
// is set, and ".shared()" when Shared is.
func (p RateLimitPolicy) String() string {
	s := "rate_limit(" + formatFloat(p.RequestsPerSecond) + ")"
	s += named(p.Name)
	if p.Burst != 0 && p.Burst != (RateLimitPolicy{RequestsPerSecond: p.RequestsPerSecond}).EffectiveBurst() {
		s += chained("burst", strconv.Itoa(p.Burst))
	}
	if p.MaxWait != 0 {
		s += chained("max_wait", p.MaxWait.String())
	}
	if p.Shared {
		s += chained("shared", "")
	}
	return s
}

// rateLimitJSON is a RateLimitPolicy's JSON document.
type rateLimitJSON struct {
	Type              string   `json:"type"`
	Name              string   `json:"name,omitempty"`
	RequestsPerSecond float64  `json:"requests_per_second"`
	Burst             int      `json:"burst,omitempty"`
	MaxWait           duration `json:"max_wait,omitempty"`
	Shared            bool     `json:"shared,omitempty"`
}

func encodeRateLimit(p RateLimitPolicy) (any, error) {
	return rateLimitJSON{"rate_limit", p.Name, p.RequestsPerSecond, p.Burst, duration(p.MaxWait), p.Shared}, nil
}

func decodeRateLimit(data []byte, _ int) (RateLimitPolicy, error) {
	return decodeAs(data, func(w rateLimitJSON) RateLimitPolicy {
		return RateLimitPolicy{Name: w.Name, RequestsPerSecond: w.RequestsPerSecond, Burst: w.Burst, MaxWait: time.Duration(w.MaxWait), Shared: w.Shared}
	})
}

// MarshalJSON writes {"type":"rate_limit","name":...,"requests_per_second":R,"burst":N,
// "max_wait":"1s","shared":true}, leaving out a zero name, burst and max_wait and a false
// shared. It fails for an invalid policy.
func (p RateLimitPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }
