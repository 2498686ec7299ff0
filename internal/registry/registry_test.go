package registry

import (
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

func TestConfigMemoryInternsAndForgetsOnTake(t *testing.T) {
	m := newConfigMemory[policy.CircuitBreakerPolicy]()
	a := policy.CircuitBreaker(5, time.Second)
	b := policy.CircuitBreaker(2, time.Second)
	m.remember("x", a)
	m.remember("y", a)
	m.remember("z", b)
	if len(m.byName) != 3 || len(m.table) != 2 {
		t.Fatalf("%d names with %d configurations; want 3 sharing 2", len(m.byName), len(m.table))
	}
	if got, ok := m.take("y"); !ok || got != a {
		t.Fatalf("take(y) = %v, %v; want %v", got, ok, a)
	}
	if _, ok := m.take("y"); ok {
		t.Fatal("a name taken once was remembered still")
	}
}

func TestLinkMapDeletesOnlyTheLinkItHolds(t *testing.T) {
	var lm linkMap[*int]
	one, two := new(int), new(int)
	lm.Store("n", one)
	lm.Store("n", two) // a new actor for the name
	lm.Delete("n", one)
	if lm.Get("n") != two {
		t.Fatal("forgetting the old actor dropped the new one")
	}
	lm.Delete("n", two)
	if lm.Get("n") != nil {
		t.Fatal("the name is still published")
	}
}

func TestLocalBackendBuildsLinkAndProps(t *testing.T) {
	l, props := Local{}.Breaker("b", policy.CircuitBreaker(1, time.Second), Env{Now: time.Unix(0, 0)})
	if l == nil || props == nil || l.Name() != "b" {
		t.Fatalf("Local.Breaker = %v, %v", l, props)
	}
	ll, lprops := Local{}.Limiter("l", policy.RateLimit(1), Env{Now: time.Unix(0, 0)})
	if ll == nil || lprops == nil || ll.Name() != "l" {
		t.Fatalf("Local.Limiter = %v, %v", ll, lprops)
	}
}
