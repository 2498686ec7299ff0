package peers

import (
	"github.com/bulwark-go/bulwark/bench"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/bulkhead"
)

// fsBulkhead is failsafe-go's bulkhead of bench.BulkheadLimit permits: never full, like
// bulwark's bench-bulkhead.
func fsBulkhead() failsafe.Policy[int] { return bulkhead.New[int](bench.BulkheadLimit) }
