package actors

import (
	"strings"
	"testing"
	"time"
)

// TestProbesVerdictAsSoonAsCertain is CB-8: each row names the probe at which the verdict
// becomes certain, and which (0 and NoReason: still undecided after the probes given).
func TestProbesVerdictAsSoonAsCertain(t *testing.T) {
	rate := WindowConfig{Count: 100, FailureThreshold: 1, FailureRate: 0.5}
	r4j := WindowConfig{ // resilience4j CircuitBreakerStateMachineTest's setUp; 4 probes
		Period: 20 * time.Second, MinimumCalls: 5, FailureThreshold: 1,
		FailureRate: 0.5, SlowCall: true, SlowCallRate: 0.5,
	}
	tests := []struct {
		name   string
		cfg    WindowConfig
		probes int
		seq    string
		want   int
		reason TransitionReason
	}{
		{"CB-8: five failed probes of ten reopen at once", rate, 10, "FFFFF", 5, ReasonProbeFailed},
		{"six successes of ten make 50% unreachable", rate, 10, "SSSSSS", 6, ReasonProbesSucceeded},
		{"five successes of ten leave it open to doubt", rate, 10, "SSSSS", 0, NoReason},
		{"mixed probes decide on the last", rate, 4, "SFSF", 4, ReasonProbeFailed},
		{"closed MinimumCalls does not apply: one failure of two is 50%", WindowConfig{Count: 100, MinimumCalls: 100, FailureThreshold: 1, FailureRate: 0.5}, 2, "F", 1, ReasonProbeFailed},
		{"resilience4j failure rate above threshold: F,F decide (it waits for F,F,S,F)", r4j, 4, "FFSF", 2, ReasonProbeFailed},
		{"resilience4j slow-call rate above threshold: two slow successes decide", r4j, 4, "sssS", 2, ReasonProbeFailed},
		{"resilience4j failure below threshold: F,S,S,S closes at the last", r4j, 4, "FSSS", 4, ReasonProbesSucceeded},
		{"resilience4j three successes already close (it waits for a fourth probe)", r4j, 4, "SSS", 3, ReasonProbesSucceeded},
		{"count mode: the FailureThreshold floor is capped at HalfOpenCalls", WindowConfig{Count: 10, FailureThreshold: 5}, 3, "FFF", 3, ReasonProbeFailed},
		{"count mode: one success of three makes 3 failures impossible", WindowConfig{Count: 10, FailureThreshold: 5}, 3, "S", 1, ReasonProbesSucceeded},
		{"rate mode keeps a floor below HalfOpenCalls", WindowConfig{Count: 10, FailureThreshold: 3, FailureRate: 0.2}, 10, "FFF", 3, ReasonProbeFailed},
		{"one probe: a failure reopens", rate, 1, "F", 1, ReasonProbeFailed},
		{"one probe: a success closes", rate, 1, "S", 1, ReasonProbesSucceeded},
		{"HalfOpenCalls 0 means one probe", rate, 0, "S", 1, ReasonProbesSucceeded},
		{"a slow failure counts toward both rates", WindowConfig{Count: 10, FailureThreshold: 1, FailureRate: 0.75, SlowCall: true, SlowCallRate: 0.75}, 4, "ffSS", 4, ReasonProbesSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProbes(tt.cfg, tt.probes)
			got, reason := 0, NoReason
			for i := range tt.seq {
				o := tt.seq[i]
				if r := p.Record(o == 'F' || o == 'f', o == 's' || o == 'f'); r != NoReason {
					got, reason = i+1, r
					break
				}
			}
			if got != tt.want || reason != tt.reason {
				t.Fatalf("verdict at probe %d (%v), want %d (%v)", got, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestProbesRemainingBoundsAdmission(t *testing.T) {
	p := NewProbes(WindowConfig{Count: 5, FailureThreshold: 1, FailureRate: 0.5}, 10)
	if p.Remaining() != 10 {
		t.Fatalf("Remaining = %d, want 10", p.Remaining())
	}
	p.Record(false, false)
	p.Record(true, false)
	if p.Remaining() != 8 || p.Counts() != (WindowCounts{Calls: 2, Failures: 1}) {
		t.Fatalf("Remaining %d counts %+v, want 8 and 2 calls, 1 failure", p.Remaining(), p.Counts())
	}
	for range 8 {
		p.Record(false, false)
	}
	if p.Remaining() != 0 || p.Verdict() != ReasonProbesSucceeded {
		t.Fatalf("all in: Remaining %d verdict %v", p.Remaining(), p.Verdict())
	}
	if r := p.Record(true, true); r != ReasonProbesSucceeded || p.Counts().Calls != 10 {
		t.Fatalf("an outcome past HalfOpenCalls changed things: %v %+v", r, p.Counts())
	}
	if c := p.Config(); c.Count != 10 || c.MinimumCalls != 10 || c.Timed() {
		t.Fatalf("probe config %+v", c)
	}
}

// TestProbesAlwaysDecideByTheLastProbe: whatever the thresholds, HalfOpenCalls outcomes
// always give a verdict, and an early verdict is the one the full set would give.
func TestProbesAlwaysDecideByTheLastProbe(t *testing.T) {
	for _, cfg := range []WindowConfig{
		{Count: 10, FailureThreshold: 2},
		{Count: 10, FailureThreshold: 1, FailureRate: 0.3},
		{Count: 10, FailureThreshold: 4, FailureRate: 0.1, SlowCall: true, SlowCallRate: 0.6},
	} {
		for n := 1; n <= 5; n++ {
			for mask := range 1 << (2 * n) { // every sequence of n outcomes of 4 kinds
				var seq strings.Builder
				for i := range n {
					seq.WriteByte("SFsf"[mask>>(2*i)&3])
				}
				full := NewProbes(cfg, n)
				early := NoReason
				for i := range n {
					o := seq.String()[i]
					r := full.Record(o == 'F' || o == 'f', o == 's' || o == 'f')
					if early == NoReason {
						early = r
					}
				}
				final := full.Verdict()
				if final == NoReason || early != final {
					t.Fatalf("%+v, %d probes %s: early %v, final %v", cfg, n, seq.String(), early, final)
				}
			}
		}
	}
}
