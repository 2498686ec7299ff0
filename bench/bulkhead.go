package bench

// BulkheadLimit is the MaxConcurrent of the bulkhead cases: more than the goroutines of
// LevelPar128, so every call is admitted on the fast path.
const BulkheadLimit = 1024
