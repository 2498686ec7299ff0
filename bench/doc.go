// Package bench holds bulwark's benchmarks and the workload definitions they share with
// the peer benchmarks in bench/peers, a separate module that runs the same workloads on
// failsafe-go, sony/gobreaker, golang.org/x/time/rate and bare protoactor-go.
//
// # Naming
//
// Every benchmark is named Benchmark<Library>/<case>/<level>: the case (see the Case
// constants) and the concurrency level (see the Level constants) are the same on both
// sides, so bench/compare.sh can pair BenchmarkBulwark/<case>/<level> with every peer's
// benchmark of the same case and level and print bulwark ÷ peer ratios.
//
//   - seq: a plain b.N loop on one goroutine.
//   - par: b.RunParallel with GOMAXPROCS goroutines.
//   - par128: b.RunParallel with 128 goroutines.
//
// At par and par128, ns/op is wall time divided by all operations (inverse throughput),
// not per-call latency. Every goroutine of a level shares one engine and one named
// breaker or limiter.
//
// # Workload
//
// Each success-path case wraps [Work], a function that returns 42 and no error, called
// through a func value. Policies are converted to policy.Policy once, outside the loop:
// the engine caches what a policy compiles into by the identity of the boxed value.
//
// # Running
//
//	go test -run '^$' -bench . ./bench/            # bulwark
//	(cd bench/peers && go test -run '^$' -bench .) # the peers
//	bash bench/compare.sh                          # both, with benchstat and ratios
//
// compare.sh ends with issue 17's targets, every one a ratio against a yardstick or a
// peer of the same run (bench/internal/ratio); README=README.md also rewrites README's
// generated table. BenchmarkIdle/actors is the yardstick of the idle named actors: a
// bare protoactor actor with the same mailbox.
package bench
