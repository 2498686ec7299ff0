// Package peers runs bulwark's benchmark workloads (package bench) on the libraries
// bulwark is compared with: failsafe-go, sony/gobreaker/v2, golang.org/x/time/rate and a
// bare protoactor-go round trip. It is a module of its own, so these libraries never
// enter bulwark's go.mod.
//
// Benchmarks are named Benchmark<Peer>/<case>/<level> with the case and level names of
// package bench, so bench/compare.sh pairs each with BenchmarkBulwark/<case>/<level>.
// Every level shares one executor, breaker, limiter or actor among its goroutines.
//
// Configurations (notes/peers.md): retry with 3 attempts; a breaker that opens after 5
// consecutive failures for 30 s; a limiter at 1e9 per second that never runs dry; a
// 10 s timeout. failsafe-go composes its policies as With(retry, breaker, timeout,
// limiter), retry outermost, and its executor is built once and shared.
package peers
