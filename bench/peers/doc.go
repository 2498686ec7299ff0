// Package peers runs bulwark's benchmark workloads (package bench) on the libraries
// bulwark is compared with: failsafe-go, sony/gobreaker/v2, golang.org/x/time/rate and a
// bare protoactor-go round trip. It is a module of its own, so these libraries never
// enter bulwark's go.mod. It also holds issue 17's yardstick floor (BenchmarkFloor): a
// direct call of the same work plus two uncontended atomic adds, the least an engine
// can pay per call, so targets are ratios that hold on any machine.
//
// Benchmarks are named Benchmark<Peer>/<case>/<level> with the case and level names of
// package bench, so bench/compare.sh pairs each with BenchmarkBulwark/<case>/<level>.
// Every level shares one executor, breaker, limiter or actor among its goroutines.
//
// Configurations (notes/peers.md): retry with 3 attempts; a breaker that opens after 5
// consecutive failures for 30 s; a limiter at 1e9 per second that never runs dry; a
// 10 s timeout. failsafe-go composes its policies as With(retry, breaker, timeout,
// limiter), retry outermost, and its executor is built once and shared.
//
// The windowed breakers of issue 12 (breaker_test.go) judge a failure rate of 50 %:
// failsafe-go's WithFailureRateThreshold(0.5, 20, 10s) (10 buckets) and gobreaker's
// rolling window (Interval 10 s, BucketPeriod 1 s, ReadyToTrip on ≥ 20 requests and a
// failure ratio ≥ 0.5) for the time window; failsafe-go's WithFailureThresholdRatio(50,
// 100) for the count window, which gobreaker lacks. Neither peer detects slow calls.
package peers
