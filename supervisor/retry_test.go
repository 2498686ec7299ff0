package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// status is a result value a classifier judges, as an HTTP status would be.
type status int

// failOn503 judges a status 503 (and any error) a failure.
func failOn503(v any, err error) policy.Verdict {
	if err != nil || v == status(503) {
		return policy.Failure
	}
	return policy.Success
}

// TestRetryClassifierRetriesResults: a classifier failing 503 retries a function that
// returns 503 twice then 200, which returns 200 after 3 attempts (RT-1).
func TestRetryClassifierRetriesResults(t *testing.T) {
	e := newEngine(t, WithClassifier("status", failOn503))
	p := fastRetry(5).WithClassifier("status")
	attempts := 0
	v, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (status, error) {
		attempts++
		if attempts <= 2 {
			return 503, nil
		}
		return 200, nil
	})
	if err != nil || v != 200 || attempts != 3 {
		t.Fatalf("got (%d, %v) after %d attempts, want (200, nil) after 3", v, err, attempts)
	}
	if r := e.Metrics().RetryAttempts; r != 2 {
		t.Fatalf("Retries = %d, want 2", r)
	}
}

// TestRetryClassifierExhaustedOnValue: a value judged a failure until retries run out
// returns the last value and ErrRetryExhausted with a nil cause (DESIGN "Outcome
// classification"); failsafe-go's "last failure" scenario.
func TestRetryClassifierExhaustedOnValue(t *testing.T) {
	e := newEngine(t, WithClassifier("status", failOn503))
	attempts := 0
	v, err := ExecuteWithPolicy(context.Background(), e, fastRetry(3).WithClassifier("status"), func(context.Context) (status, error) {
		attempts++
		return 503, nil
	})
	var pe *policy.Error
	if v != 503 || !errors.As(err, &pe) || pe.Kind != policy.ErrRetryExhausted || pe.Err != nil || pe.Attempts != 3 || attempts != 3 {
		t.Fatalf("got (%d, %#v), want (503, ErrRetryExhausted with nil Err, 3 attempts)", v, err)
	}
}

// TestRetryExhaustedCarriesLastError: failsafe-go's "last failure": the error matches
// ErrRetryExhausted and the last attempt's error, not the first.
func TestRetryExhaustedCarriesLastError(t *testing.T) {
	e := newEngine(t)
	errs := []error{errors.New("first"), errors.New("second"), errors.New("third")}
	n := 0
	_, err := ExecuteWithPolicy(context.Background(), e, fastRetry(3).WithClassifier(""), func(context.Context) (int, error) {
		n++
		return 0, errs[n-1]
	})
	if !errors.Is(err, policy.ErrRetryExhausted) || !errors.Is(err, errs[2]) || errors.Is(err, errs[0]) {
		t.Fatalf("err = %v, want ErrRetryExhausted carrying the third error", err)
	}
}

// TestRetryClassifierAbortStops: Abort stops at once and returns the outcome as it is,
// a value with a nil error, or the error (RT-1; failsafe-go's abort scenarios).
func TestRetryClassifierAbortStops(t *testing.T) {
	errFatal := errors.New("fatal")
	e := newEngine(t, WithClassifier("abort", func(v any, err error) policy.Verdict {
		if v == status(400) || errors.Is(err, errFatal) {
			return policy.Abort
		}
		if err != nil {
			return policy.Failure
		}
		return policy.Success
	}))
	p := fastRetry(5).WithClassifier("abort")
	attempts := 0
	v, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (status, error) {
		attempts++
		if attempts == 1 {
			return 0, errTemporary
		}
		return 400, nil
	})
	if v != 400 || err != nil || attempts != 2 {
		t.Fatalf("abort on a value: (%d, %v) after %d attempts, want (400, nil) after 2", v, err, attempts)
	}
	attempts = 0
	_, err = ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (status, error) {
		attempts++
		return 0, errFatal
	})
	if !errors.Is(err, errFatal) || errors.Is(err, policy.ErrRetryExhausted) || attempts != 1 {
		t.Fatalf("abort on an error: %v after %d attempts, want the error after 1", err, attempts)
	}
}

// TestRetryClassifierSuccessReturnsError: a classifier's Success on an error returns the
// error without retrying; Ignore likewise (RT-1).
func TestRetryClassifierSuccessReturnsError(t *testing.T) {
	e := newEngine(t,
		WithClassifier("ok", func(any, error) policy.Verdict { return policy.Success }),
		WithClassifier("ignore", func(any, error) policy.Verdict { return policy.Ignore }))
	for _, name := range []string{"ok", "ignore"} {
		attempts := 0
		_, err := ExecuteWithPolicy(context.Background(), e, fastRetry(3).WithClassifier(name), func(context.Context) (int, error) {
			attempts++
			return 0, errTemporary
		})
		if !errors.Is(err, errTemporary) || errors.Is(err, policy.ErrRetryExhausted) || attempts != 1 {
			t.Fatalf("%s: %v after %d attempts, want the error after 1", name, err, attempts)
		}
	}
}

// TestRetryClassifierPrecedence: a Permanent error is never retried and a refusal is
// retried by its kind, whatever the classifier says (the outcome precedence).
func TestRetryClassifierPrecedence(t *testing.T) {
	e := newEngine(t, WithClassifier("always", func(any, error) policy.Verdict { return policy.Failure }))
	attempts := 0
	_, err := ExecuteWithPolicy(context.Background(), e, fastRetry(3).WithClassifier("always"), func(context.Context) (int, error) {
		attempts++
		return 0, policy.Permanent(errTemporary)
	})
	if !errors.Is(err, errTemporary) || attempts != 1 {
		t.Fatalf("Permanent: %v after %d attempts, want 1", err, attempts)
	}
}

// TestRetryUnknownClassifierIsInvalid: a retry naming an unregistered classifier is
// ErrInvalidPolicy before anything runs, at Prepare and at ExecuteWithPolicy; a plan
// is accepted once the classifier is registered.
func TestRetryUnknownClassifierIsInvalid(t *testing.T) {
	e := newEngine(t)
	var p policy.Policy = fastRetry(3).WithClassifier("later")
	if _, err := e.Prepare("op", p); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("Prepare: %v, want ErrInvalidPolicy", err)
	}
	ran := false
	if _, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { ran = true; return 1, nil }); !errors.Is(err, policy.ErrInvalidPolicy) || ran {
		t.Fatalf("Execute: %v (ran %v), want ErrInvalidPolicy and nothing run", err, ran)
	}
	if err := e.RegisterClassifier("later", failOn503); err != nil {
		t.Fatal(err)
	}
	if v, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil || v != 42 {
		t.Fatalf("after registering: (%d, %v)", v, err)
	}
}

// TestRetryMaxDurationStopsBeforeSleepingPastIt: MaxDuration 100ms, fixed backoff 40ms,
// a function failing after 10ms, Retry(10): attempts start at 0 and 50ms; the third
// would start at 100ms, so the call returns at 60ms, right after the second failure,
// with 2 attempts, matching ErrRetryExhausted and the last error (RT-2; failsafe-go's
// max duration scenario, without its extra attempt at the boundary).
func TestRetryMaxDurationStopsBeforeSleepingPastIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := policy.Retry(10).WithBackoff(policy.FixedBackoff{Interval: 40 * time.Millisecond}).WithMaxDuration(100 * time.Millisecond)
		begin := time.Now()
		var starts []time.Duration
		_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
			starts = append(starts, time.Since(begin))
			time.Sleep(10 * time.Millisecond)
			return 0, errTemporary
		})
		took := time.Since(begin)
		var pe *policy.Error
		if !errors.As(err, &pe) || pe.Kind != policy.ErrRetryExhausted || !errors.Is(err, errTemporary) || pe.Attempts != 2 {
			t.Fatalf("err = %#v, want ErrRetryExhausted with the last error after 2 attempts", err)
		}
		if len(starts) != 2 || starts[0] != 0 || starts[1] != 50*time.Millisecond || took != 60*time.Millisecond {
			t.Fatalf("attempts started at %v, returned at %v; want [0s 50ms] and 60ms", starts, took)
		}
	})
}

// TestRetryMaxDurationDoesNotCancelAnAttempt: an attempt that runs past MaxDuration
// runs to its end (RT-2).
func TestRetryMaxDurationDoesNotCancelAnAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := fastRetry(3).WithMaxDuration(10 * time.Millisecond)
		v, err := ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
			time.Sleep(50 * time.Millisecond)
			return 1, ctx.Err()
		})
		if err != nil || v != 1 {
			t.Fatalf("got (%d, %v), want (1, nil)", v, err)
		}
	})
}

// hinted is an error carrying a server hint.
type hinted struct{ after time.Duration }

func (h hinted) Error() string             { return "busy, retry after " + h.after.String() }
func (h hinted) RetryAfter() time.Duration { return h.after }

// TestRetryHintAboveMaxRetryAfterStops: a 2h hint with MaxRetryAfter 1m returns at once
// with the error carrying the 2h hint; with MaxRetryAfter 0 the cap is 1 minute (RT-3).
func TestRetryHintAboveMaxRetryAfterStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		for _, p := range []policy.RetryPolicy{fastRetry(3).WithMaxRetryAfter(time.Minute), fastRetry(3)} {
			begin := time.Now()
			attempts := 0
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
				attempts++
				return 0, hinted{2 * time.Hour}
			})
			if took := time.Since(begin); took != 0 || attempts != 1 {
				t.Fatalf("%v: returned after %v and %d attempts, want at once after 1", p, took, attempts)
			}
			if after, ok := policy.RetryAfter(err); !ok || after != 2*time.Hour {
				t.Fatalf("%v: RetryAfter(err) = %v, %v; want 2h", p, after, ok)
			}
		}
	})
}

// TestRetryHintWithinMaxRetryAfterLengthensTheWait: a hint under the cap is waited for
// when longer than the backoff, and never shortens it (RT-3).
func TestRetryHintWithinMaxRetryAfterLengthensTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := policy.Retry(2).WithBackoff(policy.FixedBackoff{Interval: 10 * time.Second}).WithMaxRetryAfter(time.Hour)
		for _, tc := range []struct{ hint, want time.Duration }{{30 * time.Minute, 30 * time.Minute}, {time.Second, 10 * time.Second}} {
			begin := time.Now()
			var second time.Duration
			attempts := 0
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
				attempts++
				if attempts == 1 {
					return 0, hinted{tc.hint}
				}
				second = time.Since(begin)
				return 1, nil
			})
			if err != nil || second != tc.want {
				t.Fatalf("hint %v: second attempt at %v (%v), want %v", tc.hint, second, err, tc.want)
			}
		}
	})
}

// TestRetryAttemptTimeoutIsRetryWithTimeout: Retry(3).WithAttemptTimeout(d) behaves
// exactly as Combine(Retry(3), Timeout(d)): each attempt is ended at d and retried, and
// both report the same outcome and attempts (RT-6).
func TestRetryAttemptTimeoutIsRetryWithTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		sugar := fastRetry(3).WithAttemptTimeout(20 * time.Millisecond)
		plain := policy.Combine(fastRetry(3), policy.Timeout(20*time.Millisecond))
		for _, p := range []policy.Policy{sugar, plain} {
			attempts := 0
			begin := time.Now()
			v, err := ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
				attempts++
				if attempts < 3 {
					<-ctx.Done() // the attempt timeout ends it
					return 0, ctx.Err()
				}
				return 7, nil
			})
			if err != nil || v != 7 || attempts != 3 {
				t.Fatalf("%v: (%d, %v) after %d attempts, want (7, nil) after 3", p, v, err, attempts)
			}
			if took := time.Since(begin); took != 42*time.Millisecond {
				t.Fatalf("%v: took %v, want 2×20ms + 2×1ms", p, took)
			}
			attempts = 0
			_, err = ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
				attempts++
				<-ctx.Done()
				return 0, ctx.Err()
			})
			if !errors.Is(err, policy.ErrRetryExhausted) || !errors.Is(err, policy.ErrTimeout) || attempts != 3 {
				t.Fatalf("%v: %v after %d attempts, want ErrRetryExhausted of ErrTimeout after 3", p, err, attempts)
			}
		}
		if got := e.Metrics().TimeoutCount; got != 2*(2+3) {
			t.Fatalf("Timeouts = %d, want 10", got)
		}
	})
}

// TestRetryNestedNumbersItsOwnAttempts: a retry nested in another numbers its own
// attempts from 1 (RT-7).
func TestRetryNestedNumbersItsOwnAttempts(t *testing.T) {
	e := newEngine(t)
	p := policy.Combine(fastRetry(2), policy.CircuitBreaker(100, time.Minute).Named("n"), fastRetry(2))
	var seen []int
	_, _ = ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
		n, _ := AttemptFromContext(ctx)
		seen = append(seen, n)
		return 0, errTemporary
	})
	// The inner retry exhausts (not retryable by the outer one): 1, 2.
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
		t.Fatalf("seen %v, want [1 2]", seen)
	}
	seen = nil
	p = policy.Combine(fastRetry(2), policy.Timeout(time.Minute), fastRetry(2).WithAttemptTimeout(time.Minute))
	n := 0
	_, _ = ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
		a, _ := AttemptFromContext(ctx)
		seen = append(seen, a)
		n++
		if n == 2 {
			// The inner retry's last attempt fails with a timeout-like retryable error
			// the outer one retries.
			return 0, &policy.Error{Kind: policy.ErrRateLimited}
		}
		return 0, errTemporary
	})
	if len(seen) < 2 || seen[0] != 1 || seen[1] != 2 {
		t.Fatalf("seen %v, want the inner retry's numbers 1, 2 first", seen)
	}
}

// TestRetryFieldsStringAndJSON: String and JSON of the new fields, in field order, zero
// fields left out, and the JSON reads back equal (RT-1, RT-2, RT-3, RT-6).
func TestRetryFieldsStringAndJSON(t *testing.T) {
	p := policy.RetryPolicy{MaxAttempts: 3}.WithClassifier("http").WithMaxDuration(10 * time.Second).WithMaxRetryAfter(time.Minute).WithAttemptTimeout(2 * time.Second)
	if got, want := p.String(), `retry(3).classifier("http").max_duration(10s).max_retry_after(1m0s).attempt_timeout(2s)`; got != want {
		t.Fatalf("String() = %s, want %s", got, want)
	}
	if got := policy.Retry(3).WithAttemptTimeout(2 * time.Second).String(); got != "retry(3).attempt_timeout(2s)" {
		t.Fatalf("String() = %s", got)
	}
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"retry","max_attempts":3,"classifier":"http","max_duration":"10s","max_retry_after":"1m0s","attempt_timeout":"2s"}`; string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	back, err := policy.ParseJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := back.(policy.RetryPolicy)
	if !ok || r.Classifier != p.Classifier || r.MaxDuration != p.MaxDuration || r.MaxRetryAfter != p.MaxRetryAfter || r.AttemptTimeout != p.AttemptTimeout || r.MaxAttempts != 3 {
		t.Fatalf("read back %#v", back)
	}
	for _, bad := range []policy.RetryPolicy{
		policy.Retry(3).WithMaxDuration(-1), policy.Retry(3).WithMaxRetryAfter(-1), policy.Retry(3).WithAttemptTimeout(-1),
		policy.Retry(3).WithClassifier("\xff"),
	} {
		if err := bad.Validate(); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("%v: Validate() = %v, want ErrInvalidPolicy", bad, err)
		}
	}
}
