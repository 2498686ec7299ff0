package supervisor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// fastRetry is Retry(n) with a 1 ms fixed backoff.
func fastRetry(n int) policy.RetryPolicy {
	return policy.Retry(n).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond})
}

// TestAttemptFromContextNumbersRetries: the function sees 1, 2, 3 (RT-7), under the
// direct path of a plain Retry and under a Retry inside a Combine, and every attempt's
// context still carries the caller's values (IN-20).
func TestAttemptFromContextNumbersRetries(t *testing.T) {
	e := newEngine(t)
	type key struct{}
	for name, p := range map[string]policy.Policy{
		"retry":   fastRetry(3),
		"combine": policy.Combine(fastRetry(3), policy.Timeout(time.Minute)),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.WithValue(context.Background(), key{}, "caller")
			var seen []int
			v, err := ExecuteWithPolicy(ctx, e, p, func(ctx context.Context) (int, error) {
				n, hedge := AttemptFromContext(ctx)
				if hedge {
					t.Errorf("attempt %d reports a hedge", n)
				}
				if ctx.Value(key{}) != "caller" {
					t.Errorf("attempt %d lost the caller's value", n)
				}
				seen = append(seen, n)
				if n < 3 {
					return 0, errTemporary
				}
				return n, nil
			})
			if err != nil || v != 3 {
				t.Fatalf("got (%d, %v), want (3, nil)", v, err)
			}
			if len(seen) != 3 || seen[0] != 1 || seen[1] != 2 || seen[2] != 3 {
				t.Fatalf("attempts seen %v, want [1 2 3]", seen)
			}
		})
	}
}

// TestAttemptFromContextWithoutAttempt: a context the engine never saw is attempt 1.
func TestAttemptFromContextWithoutAttempt(t *testing.T) {
	if n, hedge := AttemptFromContext(context.Background()); n != 1 || hedge {
		t.Fatalf("got (%d, %v), want (1, false)", n, hedge)
	}
	//nolint:staticcheck // a nil context is what is tested
	if n, hedge := AttemptFromContext(nil); n != 1 || hedge {
		t.Fatalf("nil ctx: got (%d, %v), want (1, false)", n, hedge)
	}
}

// TestDiscardHookGetsRetriedResults: the value of every attempt a retry throws away goes
// to the WithDiscard hook, and the value returned is not discarded (RT-8).
func TestDiscardHookGetsRetriedResults(t *testing.T) {
	e := newEngine(t)
	var discarded []any
	ctx := WithDiscard(context.Background(), func(v any) { discarded = append(discarded, v) })
	v, err := ExecuteWithPolicy(ctx, e, fastRetry(3), func(ctx context.Context) (int, error) {
		n, _ := AttemptFromContext(ctx)
		if n < 3 {
			return 100 + n, errTemporary
		}
		return n, nil
	})
	if err != nil || v != 3 {
		t.Fatalf("got (%d, %v), want (3, nil)", v, err)
	}
	if len(discarded) != 2 || discarded[0] != 101 || discarded[1] != 102 {
		t.Fatalf("discarded %v, want [101 102]", discarded)
	}
}

// TestDiscardHookPanicDoesNotChangeResult: a panicking hook is counted as a panic and
// the call goes on to its result.
func TestDiscardHookPanicDoesNotChangeResult(t *testing.T) {
	e := newEngine(t)
	ctx := WithDiscard(context.Background(), func(any) { panic("hook") })
	v, err := ExecuteWithPolicy(ctx, e, fastRetry(2), func(ctx context.Context) (int, error) {
		if n, _ := AttemptFromContext(ctx); n == 1 {
			return 0, errTemporary
		}
		return 7, nil
	})
	if err != nil || v != 7 {
		t.Fatalf("got (%d, %v), want (7, nil)", v, err)
	}
	if got := e.Metrics().Panics; got != 1 {
		t.Fatalf("Panics = %d, want 1", got)
	}
	var nilHook func(any)
	ctx = WithDiscard(ctx, nilHook) // hides the outer hook
	if _, err := ExecuteWithPolicy(ctx, e, fastRetry(2), failing); !errors.Is(err, policy.ErrRetryExhausted) {
		t.Fatalf("err = %v, want ErrRetryExhausted", err)
	}
	if got := e.Metrics().Panics; got != 1 {
		t.Fatalf("Panics after a hidden hook = %d, want 1", got)
	}
}
