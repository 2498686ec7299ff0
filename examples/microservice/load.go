package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// counts holds how many requests ended in each kind.
type counts [numKinds]uint64

// requests returns the number of requests counted.
func (c counts) requests() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// add returns c + d.
func (c counts) add(d counts) counts {
	for k := range c {
		c[k] += d[k]
	}
	return c
}

// tally counts the load generator's requests by the phase they started in and by how
// they ended. Workers add to it concurrently; the view reads snapshots.
type tally struct {
	c       [numPhases][numKinds]atomic.Uint64
	skipped atomic.Uint64 // ticks dropped because every worker was busy
}

func (t *tally) record(p phase, k kind) { t.c[p][k].Add(1) }

// snapshot returns the counts of every phase.
func (t *tally) snapshot() [numPhases]counts {
	var s [numPhases]counts
	for p := range s {
		for k := range s[p] {
			s[p][k] = t.c[p][k].Load()
		}
	}
	return s
}

// total sums the counts of every phase.
func total(s [numPhases]counts) counts {
	var c counts
	for _, pc := range s {
		c = c.add(pc)
	}
	return c
}

// loadgen offers the gateway a steady rate of requests from a fixed number of workers.
type loadgen struct {
	client *http.Client
	url    string // the gateway endpoint
	sched  schedule
	tally  *tally
	series *series // for the plot
}

// run sends requests at rps times the phase's loadFactor, each handled by one of
// workers goroutines, until ctx ends; a tick that finds every worker busy is skipped, so
// the goroutines stay bounded. It returns once every request in flight has finished.
func (g *loadgen) run(ctx context.Context, rps float64, workers int) {
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				g.one()
			}
		})
	}
	interval := func(now time.Time) time.Duration {
		return time.Duration(float64(time.Second) / (rps * loadFactor[g.sched.phaseAt(now)]))
	}
	every := interval(time.Now())
	tick := time.NewTicker(every)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case now := <-tick.C:
			if d := interval(now); d != every {
				every = d
				tick.Reset(every)
			}
			select {
			case jobs <- struct{}{}:
			default:
				g.tally.skipped.Add(1)
			}
		}
	}
	close(jobs)
	wg.Wait()
}

// one sends one request and counts how it ended. It does not use the run's context, so
// a request in flight when the run ends is finished and counted, not cut off.
func (g *loadgen) one() {
	start := time.Now()
	p := g.sched.phaseAt(start)
	k := kindOther
	resp, err := g.client.Get(g.url + "?item=sku-" + strconv.Itoa(rand.IntN(1000)))
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		k = kindOK
		if resp.StatusCode != http.StatusOK {
			k = kindOf(resp.Header.Get(failureHeader))
		}
	}
	g.tally.record(p, k)
	g.series.record(start, k)
}
