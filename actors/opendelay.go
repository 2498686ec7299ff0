package actors

import (
	"math"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// OpenDelay returns how long a breaker stays open after a trip (specs/breadth.md CB-11).
// trips is the number of trips since the breaker last closed: 1 on the first trip from
// closed, one more for each failed half-open period or half-open timeout, back to 1 on the
// first trip after a close or a reset (below 1 counts as 1; this is resilience4j's
// "attempts"). The delay is backoff.Delay(trips), or recovery when backoff is nil. With
// honorRetryAfter, a retryAfter (the tripping error's RetryAfter) longer than that
// lengthens it, up to the backoff's cap when it has one (ExponentialBackoff.MaxDelay,
// LinearBackoff.Max, DecorrelatedBackoff.Max, by value or pointer) and else up to
// 10 × recovery; the cap bounds only the lengthening, so honoring a RetryAfter never makes
// the delay shorter than the backoff's own. A jittered backoff draws its sample in Delay,
// so its delays vary; everything else is a pure function of the arguments.
func OpenDelay(trips int, backoff policy.Backoff, recovery time.Duration, honorRetryAfter bool, retryAfter time.Duration) time.Duration {
	trips = max(trips, 1)
	d := recovery
	if backoff != nil {
		d = backoff.Delay(trips)
	}
	d = max(d, 0)
	if honorRetryAfter && retryAfter > d {
		d = max(d, min(retryAfter, RetryAfterCap(backoff, recovery)))
	}
	return d
}

// RetryAfterCap returns the longest open delay a tripping error's RetryAfter can ask for
// under HonorRetryAfter: the backoff's cap when it has one (ExponentialBackoff.MaxDelay,
// LinearBackoff.Max or DecorrelatedBackoff.Max above 0, by value or pointer), else
// 10 × recovery, saturating at the largest time.Duration.
func RetryAfterCap(backoff policy.Backoff, recovery time.Duration) time.Duration {
	var limit time.Duration
	switch b := backoff.(type) {
	case policy.ExponentialBackoff:
		limit = b.MaxDelay
	case *policy.ExponentialBackoff:
		if b != nil {
			limit = b.MaxDelay
		}
	case policy.LinearBackoff:
		limit = b.Max
	case *policy.LinearBackoff:
		if b != nil {
			limit = b.Max
		}
	case policy.DecorrelatedBackoff:
		limit = b.Max
	case *policy.DecorrelatedBackoff:
		if b != nil {
			limit = b.Max
		}
	}
	if limit > 0 {
		return limit
	}
	recovery = max(recovery, 0)
	if recovery > math.MaxInt64/10 {
		return math.MaxInt64
	}
	return 10 * recovery
}
