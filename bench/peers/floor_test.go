package peers

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/bulwark-go/bulwark/bench"
)

// BenchmarkFloor is issue 17's yardstick `floor`: the least any engine must pay per
// call, a direct call of the same trivial function as every other benchmark (bench.Work
// through its func value) plus two uncontended atomic adds, standing for the shutdown
// gate's entry and the outcome count. Every target "≤ k × floor" is a ratio against it,
// measured in the same run, so it travels between machines.
//
// The adds stay uncontended at every level: each goroutine adds to counters of its own,
// each on a cache line of its own, as bulwark's striped gate counters are meant to be.
// Its case name is bench.CaseFloor.
func BenchmarkFloor(b *testing.B) {
	b.Run(bench.CaseFloor, func(b *testing.B) {
		bench.RunLevelsPer(b, func() func() bool {
			g := new(gateCounters)
			return func() bool { return g.call() }
		})
	})
}

// gateCounters are a goroutine's own two counters, padded apart and away from anything
// else, so neither add ever shares a cache line with another goroutine's.
type gateCounters struct {
	_       [64]byte
	entered atomic.Uint64
	_       [56]byte
	done    atomic.Uint64
	_       [56]byte
}

// call is one floor operation: enter, run the work, count its outcome.
func (g *gateCounters) call() bool {
	g.entered.Add(1)
	v, err := bench.Work(background)
	g.done.Add(1)
	return ok(v, err)
}

// background is the context of every floor call, made once as a caller's would be.
var background = context.Background()
