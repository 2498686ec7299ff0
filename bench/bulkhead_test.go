package bench

import "github.com/bulwark-go/bulwark/policy"

// benchBulkhead is never full: BulkheadLimit permits for at most Contended callers.
func benchBulkhead() policy.BulkheadPolicy {
	return policy.Bulkhead(BulkheadLimit).Named("bench-bulkhead")
}

// benchAdaptive is never full: an AIMD adaptive limit pinned at BulkheadLimit permits,
// so its windows close and its algorithm runs, but every call is admitted.
func benchAdaptive() policy.AdaptiveLimitPolicy {
	return policy.AdaptiveLimit("aimd").Named("bench-adaptive").WithLimits(BulkheadLimit, BulkheadLimit, BulkheadLimit)
}
