package peers

import (
	"github.com/bulwark-go/bulwark/bench"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/failsafe-go/failsafe-go/bulkhead"
)

// fsBulkhead is failsafe-go's bulkhead of bench.BulkheadLimit permits: never full, like
// bulwark's bench-bulkhead.
func fsBulkhead() failsafe.Policy[int] { return bulkhead.New[int](bench.BulkheadLimit) }

// fsAdaptive is failsafe-go's adaptive limiter pinned at bench.BulkheadLimit permits
// (min = max = initial): never full, like bulwark's bench-adaptive. It still records
// every execution's RTT in its windows.
func fsAdaptive() failsafe.Policy[int] {
	return adaptivelimiter.NewBuilder[int]().WithLimits(bench.BulkheadLimit, bench.BulkheadLimit, bench.BulkheadLimit).Build()
}
