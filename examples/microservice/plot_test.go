package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/messages"
)

var update = flag.Bool("update", false, "rewrite testdata/plot.golden.svg, and docs/demo.svg from TestRun's run")

// goldenPlot is a run made up to the last digit: 12 seconds in 48 slots, each phase
// with its own outcomes, and the breaker opening in the failing phase, probing once in
// vain, closing in the slow phase, tripping again on timeouts and closing when the
// downstream recovers.
func goldenPlot() plot {
	const d = 12 * time.Second
	p := plot{
		Title:    "bulwark microservice demo: requests per second by outcome, and the breaker's state",
		Subtitle: "a golden run: made-up numbers & <escaped> text",
		Duration: d,
		Slot:     d / plotSlots,
		Rates:    make([][numKinds]float64, plotSlots),
		Phases:   phaseStarts(d),
		Breaker:  breakerName,
	}
	for i := range p.Rates {
		r := &p.Rates[i]
		switch {
		case i < 10: // healthy
			r[kindOK] = 40
		case i < 22: // failing
			r[kindCircuitOpen] = 38
			if i == 10 {
				r[kindOther], r[kindCircuitOpen] = 6, 10
			}
		case i < 28: // slow, the latency holding
			r[kindOK] = 40
		case i < 34: // slow, past the timeout
			r[kindCircuitOpen] = 36
			r[kindTimeout] = 4
		default: // recovering, at twice the load
			r[kindOK] = 50
			r[kindRateLimited] = 30
		}
	}
	at := func(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
	p.Transitions = []transition{
		{At: at(2550), Phase: failing, From: messages.Closed, To: messages.Open},
		{At: at(3550), Phase: failing, From: messages.Open, To: messages.HalfOpen},
		{At: at(3560), Phase: failing, From: messages.HalfOpen, To: messages.Open},
		{At: at(5600), Phase: slow, From: messages.Open, To: messages.HalfOpen},
		{At: at(5700), Phase: slow, From: messages.HalfOpen, To: messages.Closed},
		{At: at(7000), Phase: slow, From: messages.Closed, To: messages.Open},
		{At: at(8400), Phase: recovering, From: messages.Open, To: messages.HalfOpen},
		{At: at(8450), Phase: recovering, From: messages.HalfOpen, To: messages.Closed},
	}
	return p
}

// TestPlotMatchesGolden draws the golden run and compares it, byte for byte, with
// testdata/plot.golden.svg (go test -run TestPlotMatchesGolden -update rewrites it).
func TestPlotMatchesGolden(t *testing.T) {
	var b bytes.Buffer
	if err := goldenPlot().writeSVG(&b); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "plot.golden.svg")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		got, wantLines := strings.Split(b.String(), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(got), len(wantLines)) {
			g, w := "", ""
			if i < len(got) {
				g = got[i]
			}
			if i < len(wantLines) {
				w = wantLines[i]
			}
			if g != w {
				t.Fatalf("the plot differs from %s at line %d:\n got: %s\nwant: %s", golden, i+1, g, w)
			}
		}
	}
	checkOutline(t, b.Bytes())
}

// TestPlotOfAnEmptyRun draws a run that counted nothing and saw no transition: a
// well-formed chart with flat lines at 0, a closed band, and no NaN or infinity.
func TestPlotOfAnEmptyRun(t *testing.T) {
	p := plot{Title: "empty", Duration: 6 * time.Second, Slot: time.Second, Rates: make([][numKinds]float64, 6), Phases: phaseStarts(6 * time.Second), Breaker: "b"}
	var b bytes.Buffer
	if err := p.writeSVG(&b); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
		t.Fatalf("the plot holds NaN or Inf:\n%s", s)
	}
	o := checkOutline(t, b.Bytes())
	if slices.Contains(o.classes, "state open") || !slices.Contains(o.classes, "state closed") {
		t.Errorf("the band of a run without transitions should be closed only: %v", o.classes)
	}
}

// TestSegmentsFollowTransitions checks the band: closed from the start, a segment per
// state change, transitions outside the run clamped to it, and two at the same moment
// leaving the later state.
func TestSegmentsFollowTransitions(t *testing.T) {
	s := time.Second
	p := plot{Duration: 10 * s, Transitions: []transition{
		{At: -s, To: messages.Open},
		{At: 2 * s, To: messages.HalfOpen},
		{At: 2 * s, To: messages.Closed},
		{At: 4 * s, To: messages.ForcedOpen},
		{At: 20 * s, To: messages.Closed},
	}}
	want := []segment{
		{0, 2 * s, messages.Open},
		{2 * s, 4 * s, messages.Closed},
		{4 * s, 10 * s, messages.ForcedOpen},
		{10 * s, 10 * s, messages.Closed},
	}
	if got := p.segments(); !slices.Equal(got, want) {
		t.Errorf("segments() = %v, want %v", got, want)
	}
	if got := p.legendStates(); !slices.Equal(got, []messages.BreakerState{messages.Closed, messages.Open, messages.HalfOpen, messages.ForcedOpen}) {
		t.Errorf("legendStates() = %v", got)
	}
}

// TestSeriesCountsBySlot checks that a request counts in the slot it started in, per
// second, and that requests before the start or after the end count in the edge slots.
func TestSeriesCountsBySlot(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSeries(t0, 2*time.Second, 4) // 500ms slots
	s.record(t0.Add(-time.Second), kindOK)
	s.record(t0.Add(100*time.Millisecond), kindOK)
	s.record(t0.Add(600*time.Millisecond), kindCircuitOpen)
	s.record(t0.Add(time.Hour), kindRateLimited)
	r := s.rates()
	if len(r) != 4 || r[0][kindOK] != 4 || r[1][kindCircuitOpen] != 2 || r[3][kindRateLimited] != 2 || r[2] != ([numKinds]float64{}) {
		t.Errorf("rates() = %v", r)
	}
}

// TestNiceSteps pins the axes' round steps and their labels.
func TestNiceSteps(t *testing.T) {
	for _, tt := range []struct {
		top  float64
		n    int
		want float64
	}{{160, 5, 50}, {12, 10, 2}, {6, 10, 1}, {1, 5, 0.2}, {83, 5, 20}, {30, 10, 5}} {
		if got := niceStep(tt.top, tt.n); got != tt.want {
			t.Errorf("niceStep(%g, %d) = %g, want %g", tt.top, tt.n, got, tt.want)
		}
	}
	if got := tickLabel(3*0.2, 0.2); got != "0.6" {
		t.Errorf("tickLabel(0.6, 0.2) = %q", got)
	}
	if got := tickLabel(150, 50); got != "150" {
		t.Errorf("tickLabel(150, 50) = %q", got)
	}
}

// outline is what every plot of the demo has whatever its numbers: the class of every
// element (sorted, once each) and the texts without digits, in order (title, axes,
// phases, legend).
type outline struct {
	classes []string
	texts   []string
}

// svgOutline parses an SVG document and returns its outline; it fails on XML that is
// not well formed.
func svgOutline(svg []byte) (outline, error) {
	var o outline
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return o, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			for _, a := range tok.Attr {
				if a.Name.Local == "class" && !slices.Contains(o.classes, a.Value) {
					o.classes = append(o.classes, a.Value)
				}
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(tok)); s != "" && !strings.ContainsAny(s, "0123456789") {
				o.texts = append(o.texts, s)
			}
		}
	}
	slices.Sort(o.classes)
	return o, nil
}

// checkOutline checks that svg is well formed and shows what every plot of the demo
// shows: the title, the phases in order, a line per outcome, a legend entry per outcome
// and breaker state, and a band with every state of the demo's story.
func checkOutline(t *testing.T, svg []byte) outline {
	t.Helper()
	o, err := svgOutline(svg)
	if err != nil {
		t.Fatalf("the plot is not well-formed XML: %v", err)
	}
	var phases []string
	for _, s := range o.texts {
		for p := healthy; p < numPhases; p++ {
			if s == p.String() {
				phases = append(phases, s)
			}
		}
	}
	if want := phaseNames[:]; !slices.Equal(phases, want) {
		t.Errorf("phase labels %v, want %v", phases, want)
	}
	for k := kindOK; k < numKinds; k++ {
		if !slices.Contains(o.classes, "outcome "+k.String()) {
			t.Errorf("no line for %s: classes %v", k, o.classes)
		}
		if !slices.Contains(o.texts, k.String()) {
			t.Errorf("no legend entry for %s: texts %v", k, o.texts)
		}
	}
	for _, s := range []messages.BreakerState{messages.Closed, messages.Open, messages.HalfOpen} {
		if !slices.Contains(o.texts, s.String()) {
			t.Errorf("no legend entry for the breaker state %s: texts %v", s, o.texts)
		}
	}
	return o
}
