package main

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/messages"
)

// plotSlots is how many time slots a run's plot has: 48 for any -duration, a quarter of
// a second each for the default 12 seconds.
const plotSlots = 48

// series counts the load generator's requests by the time slot they started in and by
// how they ended, for the plot. Workers add to it concurrently.
type series struct {
	start time.Time
	slot  time.Duration
	c     [][numKinds]atomic.Uint64
}

// newSeries returns a series of slots time slots that together last total from start.
func newSeries(start time.Time, total time.Duration, slots int) *series {
	return &series{start: start, slot: max(total/time.Duration(slots), time.Nanosecond), c: make([][numKinds]atomic.Uint64, slots)}
}

// record counts a request that started at t and ended in kind k. A request before the
// start or after the end counts in the first or the last slot.
func (s *series) record(t time.Time, k kind) {
	i := min(max(int(t.Sub(s.start)/s.slot), 0), len(s.c)-1)
	s.c[i][k].Add(1)
}

// rates returns, for every slot, the requests per second of each kind.
func (s *series) rates() [][numKinds]float64 {
	r := make([][numKinds]float64, len(s.c))
	for i := range s.c {
		for k := range s.c[i] {
			r[i][k] = float64(s.c[i][k].Load()) / s.slot.Seconds()
		}
	}
	return r
}

// plot is what the chart of a run shows: the outcomes per second by kind, one line
// each, and under them the breaker's state as a band, with the phases marked across
// both. It holds plain values, so the same plot always draws the same SVG.
type plot struct {
	Title    string
	Subtitle string
	Duration time.Duration
	// Slot is the width of each element of Rates.
	Slot time.Duration
	// Rates are the requests per second that started in each slot, by kind.
	Rates [][numKinds]float64
	// Phases are the offsets from the start at which each phase begins.
	Phases [numPhases]time.Duration
	// Breaker names the breaker whose Transitions the band shows; it starts closed.
	Breaker     string
	Transitions []transition
}

// phaseStarts returns when each phase of a run of duration d begins.
func phaseStarts(d time.Duration) [numPhases]time.Duration {
	var starts [numPhases]time.Duration
	from := time.Duration(0)
	for p := healthy; p < numPhases; p++ {
		starts[p] = from
		from += time.Duration(share[p] * float64(d))
	}
	return starts
}

// The chart's geometry, in SVG user units.
const (
	plotWidth   = 960
	plotHeight  = 400
	plotLeft    = 64  // the y axis
	plotRight   = 780 // the end of the time axis; the legend is to its right
	plotTop     = 84  // the top of the line chart
	plotBottom  = 304 // the line chart's time axis
	bandTop     = 316 // the breaker's state band
	bandHeight  = 20
	tickLabelsY = 354
	axisTitleY  = 378
)

// The colours of the outcome kinds and of the breaker states.
var (
	kindColours  = [numKinds]string{"#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#7f7f7f"}
	stateColours = map[messages.BreakerState]string{
		messages.Closed: "#2ca02c", messages.Open: "#d62728", messages.HalfOpen: "#f2c12e",
		messages.ForcedOpen: "#8b0000", messages.Disabled: "#bbbbbb", messages.MetricsOnly: "#1f77b4",
	}
)

// segment is a stretch of the band in one breaker state.
type segment struct {
	from, to time.Duration
	state    messages.BreakerState
}

// segments returns the band: closed from the start, then each transition's state until
// the next one or the end. Transitions outside the run are clamped to it.
func (p plot) segments() []segment {
	segs := []segment{{from: 0, state: messages.Closed}}
	for _, t := range p.Transitions {
		at := min(max(t.At, 0), p.Duration)
		last := &segs[len(segs)-1]
		if at == last.from {
			last.state = t.To
			continue
		}
		last.to = at
		segs = append(segs, segment{from: at, state: t.To})
	}
	segs[len(segs)-1].to = p.Duration
	return segs
}

// niceStep returns a round step (1, 2 or 5 times a power of ten) that cuts 0..top into
// about n intervals.
func niceStep(top float64, n int) float64 {
	raw := top / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// tickLabel formats the tick value v of an axis whose ticks are step apart, with as
// many decimals as step needs.
func tickLabel(v, step float64) string {
	return strconv.FormatFloat(v, 'f', max(0, int(-math.Floor(math.Log10(step)))), 64)
}

// writeSVG draws the plot as a standalone SVG document.
func (p plot) writeSVG(w io.Writer) error {
	bw := bufio.NewWriter(w)
	f := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	esc := html.EscapeString
	total := max(p.Duration.Seconds(), 1e-9)
	x := func(d time.Duration) float64 {
		return plotLeft + min(max(d.Seconds()/total, 0), 1)*(plotRight-plotLeft)
	}

	// The y axis: requests per second, from 0 to a round value above the highest rate.
	peak := 0.0
	for _, r := range p.Rates {
		for _, v := range r {
			peak = max(peak, v)
		}
	}
	step := niceStep(max(peak, 1), 5)
	yTop := step * math.Ceil(max(peak, 1)/step)
	y := func(v float64) float64 { return plotBottom - v/yTop*(plotBottom-plotTop) }

	f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotWidth, plotHeight, plotWidth, plotHeight)
	f(`<rect class="background" width="%d" height="%d" fill="#ffffff"/>`+"\n", plotWidth, plotHeight)
	f(`<text class="title" x="%d" y="22" font-size="16" font-weight="bold">%s</text>`+"\n", plotLeft, esc(p.Title))
	f(`<text class="subtitle" x="%d" y="40" fill="#555555">%s</text>`+"\n", plotLeft, esc(p.Subtitle))

	// Grid and y axis.
	yTicks := int(math.Round(yTop / step))
	f(`<g class="y-axis" stroke="#e5e5e5">` + "\n")
	for i := range yTicks + 1 {
		v := float64(i) * step
		f(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`+"\n", plotLeft, y(v), plotRight, y(v))
	}
	f("</g>\n")
	f(`<g class="y-labels" text-anchor="end" fill="#333333">` + "\n")
	for i := range yTicks + 1 {
		v := float64(i) * step
		f(`<text x="%d" y="%.1f">%s</text>`+"\n", plotLeft-6, y(v)+4, tickLabel(v, step))
	}
	f("</g>\n")
	f(`<text class="axis-title" transform="translate(16 %d) rotate(-90)" text-anchor="middle">requests per second, by outcome</text>`+"\n",
		(plotTop+plotBottom)/2)

	// The time axis, under the band: a tick every round number of seconds.
	tstep := niceStep(total, 10)
	f(`<g class="x-labels" text-anchor="middle" fill="#333333">` + "\n")
	for i := range int(math.Floor(total/tstep+1e-9)) + 1 {
		s := float64(i) * tstep
		f(`<text x="%.1f" y="%d">%ss</text>`+"\n", x(time.Duration(s*float64(time.Second))), tickLabelsY, tickLabel(s, tstep))
	}
	f("</g>\n")
	f(`<text class="axis-title" x="%d" y="%d" text-anchor="middle">time since the start of the run</text>`+"\n", (plotLeft+plotRight)/2, axisTitleY)

	// The breaker's state band.
	f(`<text class="band-label" x="%d" y="%d" text-anchor="end">breaker</text>`+"\n", plotLeft-6, bandTop+14)
	f(`<g class="band">` + "\n")
	for _, s := range p.segments() {
		f(`<rect class="state %s" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %.2fs-%.2fs</title></rect>`+"\n",
			s.state, x(s.from), bandTop, x(s.to)-x(s.from), bandHeight, stateColours[s.state], s.state, s.from.Seconds(), s.to.Seconds())
	}
	f("</g>\n")

	// The phases: a dashed line where each begins, its name above the chart.
	f(`<g class="phases" fill="#333333" text-anchor="middle">` + "\n")
	for ph := healthy; ph < numPhases; ph++ {
		from, to := p.Phases[ph], p.Duration
		if ph+1 < numPhases {
			to = p.Phases[ph+1]
		}
		if ph > healthy {
			f(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555555" stroke-dasharray="4 3"/>`+"\n",
				x(from), plotTop-8, x(from), bandTop+bandHeight)
		}
		f(`<text class="phase" x="%.1f" y="%d">%s</text>`+"\n", (x(from)+x(to))/2, plotTop-12, ph)
	}
	f("</g>\n")

	// The outcome lines: each slot's rate at the slot's middle.
	f(`<g class="lines" fill="none" stroke-width="1.8" stroke-linejoin="round">` + "\n")
	for k := kindOK; k < numKinds; k++ {
		var pts strings.Builder
		for i, r := range p.Rates {
			if i > 0 {
				pts.WriteByte(' ')
			}
			mid := p.Slot*time.Duration(i) + p.Slot/2
			fmt.Fprintf(&pts, "%.1f,%.1f", x(mid), y(r[k]))
		}
		f(`<polyline class="outcome %s" stroke="%s" points="%s"/>`+"\n", k, kindColours[k], pts.String())
	}
	f("</g>\n")
	f(`<line class="x-axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>`+"\n", plotLeft, plotBottom, plotRight, plotBottom)

	// The legend: the outcomes, then the breaker states the band can show.
	ly := plotTop
	f(`<g class="legend" fill="#333333">` + "\n")
	f(`<text x="%d" y="%d" font-weight="bold">outcome</text>`+"\n", plotRight+20, ly)
	for k := kindOK; k < numKinds; k++ {
		ly += 18
		f(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/><text x="%d" y="%d">%s</text>`+"\n",
			plotRight+20, ly-4, plotRight+40, ly-4, kindColours[k], plotRight+46, ly, k)
	}
	ly += 30
	f(`<text x="%d" y="%d" font-weight="bold">breaker %s</text>`+"\n", plotRight+20, ly, esc(fmt.Sprintf("%q", p.Breaker)))
	for _, s := range p.legendStates() {
		ly += 18
		f(`<rect x="%d" y="%d" width="20" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			plotRight+20, ly-9, stateColours[s], plotRight+46, ly, s)
	}
	f("</g>\n")
	f("</svg>\n")
	return bw.Flush()
}

// legendStates returns closed, open and half-open, then any other state the band shows.
func (p plot) legendStates() []messages.BreakerState {
	states := []messages.BreakerState{messages.Closed, messages.Open, messages.HalfOpen}
	for _, s := range p.segments() {
		found := false
		for _, have := range states {
			found = found || have == s.state
		}
		if !found {
			states = append(states, s.state)
		}
	}
	return states
}

// writeFile draws the plot into the file at path.
func (p plot) writeFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := p.writeSVG(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
