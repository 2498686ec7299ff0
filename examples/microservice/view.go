package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/supervisor"
)

// transition is one breaker state change seen through Engine.Subscribe.
type transition struct {
	At       time.Duration // since the start of the run
	Phase    phase
	From, To messages.BreakerState
}

// view shows the run as it happens: a status refreshed four times a second on a
// terminal (a small table redrawn in place with ANSI codes), or one plain status line a
// second otherwise, plus one line for every breaker state change. It is the only writer
// of out while it runs.
type view struct {
	out         io.Writer
	live        bool
	eng         *supervisor.Engine
	sched       schedule
	tally       *tally
	gw          *gateway // for its timed-out attempts
	transitions []transition
	drawn       int       // lines of the live table now on screen
	last        time.Time // when the last status was shown
}

// loop shows events and status until stop is closed, then shows the events already
// delivered and a last status.
func (v *view) loop(events <-chan supervisor.Event, stop <-chan struct{}) {
	every := time.Second
	if v.live {
		every = 250 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			v.event(ev)
		case now := <-tick.C:
			v.status(now)
		case <-stop:
			for {
				select {
				case ev, ok := <-events:
					if ok {
						v.event(ev)
						continue
					}
				default:
				}
				if now := time.Now(); v.live || now.Sub(v.last) > every/2 {
					v.status(now)
				}
				return
			}
		}
	}
}

// event prints a breaker state change above the live table.
func (v *view) event(ev supervisor.Event) {
	if ev.Kind != supervisor.BreakerStateChanged {
		return
	}
	t := transition{At: ev.At.Sub(v.sched.start), Phase: v.sched.phaseAt(ev.At), From: ev.From, To: ev.To}
	v.transitions = append(v.transitions, t)
	v.erase()
	fmt.Fprintf(v.out, "%6.2fs  %-10s  breaker %q: %s -> %s\n",
		t.At.Seconds(), t.Phase, ev.Name, ev.From, ev.To)
	if v.live {
		v.draw(time.Now())
	}
}

// status shows the counters now.
func (v *view) status(now time.Time) {
	v.last = now
	if v.live {
		v.erase()
		v.draw(now)
		return
	}
	elapsed := min(now.Sub(v.sched.start), v.sched.total)
	c := total(v.tally.snapshot())
	b, l := v.engineState()
	fmt.Fprintf(v.out, "%6.2fs  %-10s  requests %d  ok %d  circuit_open %d  rate_limited %d  timeout %d  other %d  attempts_timed_out %d  breaker %s  limiter_rejected %d\n",
		elapsed.Seconds(), v.sched.phaseAt(now), c.requests(), c[kindOK],
		c[kindCircuitOpen], c[kindRateLimited], c[kindTimeout], c[kindOther], v.timedOut(), b.State, l.Rejected)
}

// engineState reads the demo's breaker and limiter from the engine's metrics.
func (v *view) engineState() (supervisor.BreakerStats, supervisor.LimiterStats) {
	m := v.eng.Metrics()
	return m.Breakers[breakerName], m.Limiters[limiterName]
}

// timedOut returns the attempts the engine's timeout cut off so far.
func (v *view) timedOut() uint64 {
	var n uint64
	for p := range v.gw.timedOut {
		n += v.gw.timedOut[p].Load()
	}
	return n
}

// draw prints the live table below the cursor.
func (v *view) draw(now time.Time) {
	elapsed := min(now.Sub(v.sched.start), v.sched.total)
	done := int(20 * elapsed / v.sched.total)
	c := total(v.tally.snapshot())
	b, l := v.engineState()
	lines := []string{
		fmt.Sprintf("  [%s%s] %5.1fs/%.1fs  phase %s", strings.Repeat("#", done), strings.Repeat("-", 20-done),
			elapsed.Seconds(), v.sched.total.Seconds(), v.sched.phaseAt(now)),
		fmt.Sprintf("  requests %d  ok %d  circuit open %d  rate limited %d  timeout %d  other %d  (attempts timed out %d)",
			c.requests(), c[kindOK], c[kindCircuitOpen], c[kindRateLimited], c[kindTimeout], c[kindOther], v.timedOut()),
		fmt.Sprintf("  breaker %q %s (%d trips)   limiter %q rejected %d",
			breakerName, b.State, b.Trips, limiterName, l.Rejected),
	}
	for _, line := range lines {
		fmt.Fprintf(v.out, "%s\x1b[K\n", line)
	}
	v.drawn = len(lines)
}

// erase moves the cursor back to the top of the live table and clears it.
func (v *view) erase() {
	if v.drawn > 0 {
		fmt.Fprintf(v.out, "\x1b[%dA\x1b[J", v.drawn)
		v.drawn = 0
	}
}

// summary is what a run did, for the final table and for tests.
type summary struct {
	Elapsed     time.Duration
	Phases      [numPhases]counts
	Downstream  [numPhases]uint64 // requests that reached the downstream, by phase
	TimedOut    [numPhases]uint64 // attempts the engine's timeout cut off, by phase
	Skipped     uint64            // load ticks dropped because every worker was busy
	Transitions []transition
	Breaker     supervisor.BreakerStats
	Limiter     supervisor.LimiterStats
	Metrics     supervisor.Metrics
	Plot        plot // the run drawn by writeSVG
}

// opened returns how many times the breaker opened, and how many times it closed after
// having opened.
func (s summary) opened() (opened, closedAfter int) {
	for _, t := range s.Transitions {
		switch {
		case t.To == messages.Open:
			opened++
		case t.To == messages.Closed && opened > 0:
			closedAfter++
		}
	}
	return opened, closedAfter
}

// print writes the summary table.
func (s summary) print(out io.Writer, cfg config) {
	fmt.Fprintf(out, "\nsummary after %.1fs (load: %g req/s from %d workers)\n\n", s.Elapsed.Seconds(), cfg.RPS, cfg.Workers)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trequests\tok\tcircuit_open\trate_limited\ttimeout\tother\tattempts timed out\treached downstream\t")
	row := func(name string, c counts, timedOut, hits uint64) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", name, c.requests(), c[kindOK],
			c[kindCircuitOpen], c[kindRateLimited], c[kindTimeout], c[kindOther], timedOut, hits)
	}
	var timedOut, hits uint64
	for p := healthy; p < numPhases; p++ {
		row(p.String(), s.Phases[p], s.TimedOut[p], s.Downstream[p])
		timedOut += s.TimedOut[p]
		hits += s.Downstream[p]
	}
	row("total", total(s.Phases), timedOut, hits)
	_ = tw.Flush()

	opened, closed := s.opened()
	m := s.Metrics
	fmt.Fprintf(out, "\nbreaker %q: opened %s, closed again %s, now %s\n", breakerName, times(opened), times(closed), s.Breaker.State)
	fmt.Fprintf(out, "limiter %q: admitted %d, rejected %d\n", limiterName, s.Limiter.Allowed, s.Limiter.Rejected)
	fmt.Fprintf(out, "engine: %d operations (%d ok, %d failed), %d retries, %d timeouts, %d rate-limit hits, %d breaker trips\n",
		m.TotalOperations, m.SuccessfulOperations, m.FailedOperations, m.RetryAttempts, m.TimeoutCount, m.RateLimitHits, m.CircuitBreakerTrips)
	if s.Skipped > 0 {
		fmt.Fprintf(out, "load generator: %d requests not sent because every worker was busy\n", s.Skipped)
	}
}

// times returns "1 time" or "n times".
func times(n int) string {
	if n == 1 {
		return "1 time"
	}
	return fmt.Sprintf("%d times", n)
}
