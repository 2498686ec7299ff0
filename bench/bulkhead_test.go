package bench

import "github.com/bulwark-go/bulwark/policy"

// benchBulkhead is never full: BulkheadLimit permits for at most Contended callers.
func benchBulkhead() policy.BulkheadPolicy {
	return policy.Bulkhead(BulkheadLimit).Named("bench-bulkhead")
}
