package actors

import (
	"testing"
	"time"
)

// AL-2: Netflix concurrency-limits AIMDLimitTest, value for value.
func TestAIMDMatchesNetflixAIMDLimitTest(t *testing.T) {
	if l := NewAIMD(10, 20, 200, 0.9, 5*time.Second).Limit(); l != 10 { // testDefault
		t.Errorf("testDefault: %d; want 10", l)
	}
	if l := NewAIMD(20, 20, 200, 0.9, 5*time.Second).Update(LimitSample{RTT: time.Millisecond, InFlight: 10}); l != 21 { // increaseOnSuccess
		t.Errorf("increaseOnSuccess: %d; want 21", l)
	}
	if l := NewAIMD(30, 20, 200, 0.9, 5*time.Second).Update(LimitSample{Dropped: true}); l != 27 { // decreaseOnDrops
		t.Errorf("decreaseOnDrops: %d; want 27", l)
	}
	if l := NewAIMD(21, 0, 21, 0.9, 5*time.Second).Update(LimitSample{RTT: time.Millisecond, InFlight: 10}); l != 21 { // successOverflow
		t.Errorf("successOverflow: %d; want 21", l)
	}
}

// AL-2, AL-3: an RTT above the timeout is a drop, the limit stays at Min, and a window
// that used less than half the limit does not grow it.
func TestAIMDTimeoutFloorAndAppLimit(t *testing.T) {
	a := NewAIMD(20, 1, 200, 0.9, time.Second)
	if l := a.Update(LimitSample{RTT: 2 * time.Second, InFlight: 20}); l != 18 {
		t.Errorf("an RTT above the timeout: %d; want 18", l)
	}
	if l := a.Update(LimitSample{RTT: time.Millisecond, InFlight: 8}); l != 18 {
		t.Errorf("app-limited window (8 of 18): %d; want 18", l)
	}
	if l := a.Update(LimitSample{RTT: time.Millisecond, InFlight: 9}); l != 19 {
		t.Errorf("half used (9 of 18): %d; want 19", l)
	}
	b := NewAIMD(20, 20, 200, 0.9, time.Second)
	if l := b.Update(LimitSample{Dropped: true}); l != 20 {
		t.Errorf("a drop at Min 20: %d; want 20", l)
	}
}

// vegasTest is NCL VegasLimitTest.create: alpha 3, beta 6, smoothing 1, initial 10, max 20.
func vegasTest() *Vegas {
	return NewVegas(VegasConfig{Alpha: 3, Beta: 6, Smoothing: 1, Initial: 10, Max: 20, Jitter: func() float64 { return 1 }})
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// AL-2: Netflix concurrency-limits VegasLimitTest, value for value.
func TestVegasMatchesNetflixVegasLimitTest(t *testing.T) {
	type step struct {
		rtt      time.Duration
		inflight int
		want     int
	}
	for _, c := range []struct {
		name  string
		v     *Vegas
		steps []step
	}{
		{"largeLimitIncrease", NewVegas(VegasConfig{Initial: 10000, Max: 20000, Jitter: func() float64 { return 1 }}),
			[]step{{10 * time.Second, 5000, 10000}, {10 * time.Second, 6000, 10024}}},
		{"increaseLimit", vegasTest(), []step{{ms(10), 10, 10}, {ms(10), 11, 16}}},
		{"decreaseLimit", vegasTest(), []step{{ms(10), 10, 10}, {ms(50), 11, 9}}},
		{"noChangeIfWithinThresholds", vegasTest(), []step{{ms(10), 10, 10}, {ms(14), 14, 10}}},
		{"decreaseSmoothing", NewVegas(VegasConfig{Decrease: func(l float64) float64 { return l / 2 }, Smoothing: 0.5, Initial: 100, Max: 200, Jitter: func() float64 { return 1 }}),
			[]step{{ms(10), 100, 100}, {ms(20), 100, 75}, {ms(20), 100, 56}}},
		{"decreaseWithoutSmoothing", NewVegas(VegasConfig{Decrease: func(l float64) float64 { return l / 2 }, Initial: 100, Max: 200, Jitter: func() float64 { return 1 }}),
			[]step{{ms(10), 100, 100}, {ms(20), 100, 50}, {ms(20), 100, 25}}},
	} {
		for i, s := range c.steps {
			if l := c.v.Update(LimitSample{RTT: s.rtt, InFlight: s.inflight}); l != s.want || c.v.Limit() != s.want {
				t.Errorf("%s step %d: %d; want %d", c.name, i, l, s.want)
			}
		}
	}
}

// AL-2: Vegas re-probes the no-load RTT after jitter·30·limit samples, and a drop
// lowers the limit by log10(limit).
func TestVegasProbesAndDrops(t *testing.T) {
	v := NewVegas(VegasConfig{Initial: 20, Jitter: func() float64 { return 0.5 }})
	v.Update(LimitSample{RTT: ms(10), InFlight: 20})
	if l := v.Update(LimitSample{RTT: ms(20), InFlight: 20, Dropped: true}); l != 19 {
		t.Errorf("a drop at 20: %d; want 19", l)
	}
	for range 400 {
		v.Update(LimitSample{RTT: ms(40), InFlight: 1})
	}
	if v.NoLoadRTT() != ms(40) {
		t.Errorf("after a probe the no-load RTT is %v; want 40ms", v.NoLoadRTT())
	}
	if l := log10Int(0) + log10Int(9) + log10Int(10) + log10Int(999) + log10Int(1000) + log10Int(10000); l != 1+1+1+2+3+4 {
		t.Errorf("log10Int sum %d", l)
	}
}

// AL-2: Gradient2Limit's formula with its defaults: gradient = max(0.5, min(1,
// 1.5·long/short)), new = limit·gradient + 4, smoothed by 0.2, clamped; the limit holds
// while in-flight is below half of it.
func TestGradient2MatchesNetflixFormula(t *testing.T) {
	g := NewGradient2(100, 1, 200)
	if l := g.Update(LimitSample{RTT: ms(10), InFlight: 100}); l != 100 { // 100·0.8 + 104·0.2 = 100.8
		t.Errorf("steady RTT: %d; want 100", l)
	}
	if l := g.Update(LimitSample{RTT: ms(100), InFlight: 100}); l != 98 { // long 55ms: gradient 0.825 → 98.072
		t.Errorf("RTT ×10: %d; want 98", l)
	}
	if l := g.Update(LimitSample{RTT: ms(100), InFlight: 10}); l != 98 {
		t.Errorf("app-limited: %d; want 98", l)
	}
	d := NewGradient2(20, 20, 200)
	d.Update(LimitSample{RTT: ms(10), InFlight: 20})
	if l := d.Update(LimitSample{RTT: ms(10), InFlight: 20}); l != 21 { // 20.8 → 21.6
		t.Errorf("defaults, two steady windows: %d; want 21", l)
	}
	for range 2000 {
		d.Update(LimitSample{RTT: ms(10), InFlight: 1000})
	}
	if d.Limit() != 200 {
		t.Errorf("growth stops at Max: %d", d.Limit())
	}
	for range 20 {
		d.Update(LimitSample{RTT: time.Second, InFlight: 1000})
	}
	if d.Limit() >= 100 {
		t.Errorf("a jump of the RTT ×100 for 20 windows: %d; want < 100", d.Limit())
	}
	for range 5000 {
		d.Update(LimitSample{RTT: time.Second, InFlight: 1000})
	}
	if d.Limit() != 200 {
		t.Errorf("once the long RTT has learnt the new latency the limit recovers: %d", d.Limit())
	}
	if d.Update(LimitSample{}) != d.Limit() {
		t.Error("an RTT of 0 moved the limit")
	}
}
