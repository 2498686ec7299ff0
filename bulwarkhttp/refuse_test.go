package bulwarkhttp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// IN-8: every refusal kind's status, and Retry-After = ceil(RetryAfter) seconds, at
// least 1, whenever it is known.
func TestRefuseMapsEachKindToAStatusAndRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		name  string
		err   error
		code  int
		after string
	}{
		{"rate limited", &policy.Error{Kind: policy.ErrRateLimited, After: 1500 * time.Millisecond}, 429, "2"},
		{"rate limited, hint under a second", &policy.Error{Kind: policy.ErrRateLimited, After: time.Millisecond}, 429, "1"},
		{"rate limited after retries", &policy.Error{Kind: policy.ErrRetryExhausted, Err: &policy.Error{Kind: policy.ErrRateLimited, After: 3 * time.Second}}, 429, "3"},
		{"circuit open", &policy.Error{Kind: policy.ErrCircuitOpen, After: 30 * time.Second}, 503, "30"},
		{"forced open, no time known", &policy.Error{Kind: policy.ErrCircuitForcedOpen}, 503, ""},
		{"concurrency limited", &policy.Error{Kind: policy.ErrConcurrencyLimited}, 503, ""},
		{"concurrency limited with a hint", &policy.Error{Kind: policy.ErrConcurrencyLimited, After: 200 * time.Millisecond}, 503, "1"},
		{"overloaded", &policy.Error{Kind: policy.ErrOverloaded}, 503, ""},
		{"shut down", &policy.Error{Kind: policy.ErrShutdown}, 503, ""},
		{"timeout", &policy.Error{Kind: policy.ErrTimeout}, 503, ""},
		{"cancelled", &policy.Error{Kind: policy.ErrCancelled}, 503, ""},
		{"panic", &policy.Error{Kind: policy.ErrPanic, Err: errors.New("boom")}, 500, ""},
		{"invalid policy", &policy.Error{Kind: policy.ErrInvalidPolicy}, 500, ""},
		{"any other error", errors.New("disk full"), 500, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			refuse(rec, tt.err)
			if rec.Code != tt.code || rec.Header().Get("Retry-After") != tt.after {
				t.Errorf("got %d Retry-After %q; want %d %q", rec.Code, rec.Header().Get("Retry-After"), tt.code, tt.after)
			}
			if rec.Body.String() != http.StatusText(tt.code)+"\n" {
				t.Errorf("body %q", rec.Body)
			}
		})
	}
}
