package peers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/timeout"
)

// BenchmarkHTTPTransport measures what a resilience RoundTripper adds to one GET on a
// loopback keep-alive connection: BenchmarkHTTPTransport/direct is the bare
// http.Transport, /bulwark/<case> runs through bulwarkhttp.NewTransport and
// /failsafehttp/<case> through failsafehttp.NewRoundTripper, with the same policies:
// retry (3 attempts; failsafehttp's own retry policy builder, which retries the same
// statuses), and retry_breaker_timeout (breaker 5 failures / 30s, timeout 10s: bulwark's
// pessimistic default, and as retry_breaker_timeout_coop the cooperative one). The
// server answers 200 with a 2-byte body, which the client reads and closes. Compare
// each case with direct: the difference is the transport's overhead per request.
func BenchmarkHTTPTransport(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	runHTTPCases(b, srv.URL, func() http.RoundTripper { return &http.Transport{MaxIdleConnsPerHost: 64} })
}

// BenchmarkHTTPTransportOverhead is BenchmarkHTTPTransport with the network taken out:
// the inner RoundTripper answers at once with a fresh 200 response, so what is left is
// the resilience transport's own cost (and the http.Client's).
func BenchmarkHTTPTransportOverhead(b *testing.B) {
	runHTTPCases(b, "http://svc.invalid/", func() http.RoundTripper { return answerAtOnce{} })
}

// answerAtOnce is a RoundTripper that answers every request 200 "ok".
type answerAtOnce struct{}

func (answerAtOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), ContentLength: 2, Request: req}, nil
}

func runHTTPCases(b *testing.B, url string, newInner func() http.RoundTripper) {
	engine, err := supervisor.New()
	if err != nil {
		b.Fatal(err)
	}
	defer engine.Shutdown(context.Background())

	type rt struct {
		name string
		make func(next http.RoundTripper) http.RoundTripper
	}
	cases := []rt{
		{"direct", func(next http.RoundTripper) http.RoundTripper { return next }},
		{"bulwark/retry", func(next http.RoundTripper) http.RoundTripper {
			return bulwarkhttp.NewTransport(engine, policy.Retry(3), next)
		}},
		{"failsafehttp/retry", func(next http.RoundTripper) http.RoundTripper {
			return failsafehttp.NewRoundTripper(next, failsafehttp.NewRetryPolicyBuilder().Build())
		}},
		{"bulwark/retry_breaker_timeout", func(next http.RoundTripper) http.RoundTripper {
			return bulwarkhttp.NewTransport(engine, policy.Combine(
				policy.Retry(3),
				policy.CircuitBreaker(5, 30*time.Second).Named("bench-http"),
				policy.Timeout(10*time.Second)), next)
		}},
		// The same with the Timeout cooperative: net/http honours the request's context,
		// so the attempt needs no goroutine of its own.
		{"bulwark/retry_breaker_timeout_coop", func(next http.RoundTripper) http.RoundTripper {
			return bulwarkhttp.NewTransport(engine, policy.Combine(
				policy.Retry(3),
				policy.CircuitBreaker(5, 30*time.Second).Named("bench-http-coop"),
				policy.Timeout(10*time.Second).AsCooperative()), next)
		}},
		{"failsafehttp/retry_breaker_timeout", func(next http.RoundTripper) http.RoundTripper {
			return failsafehttp.NewRoundTripperWithExecutor(next, failsafe.With[*http.Response](
				failsafehttp.NewRetryPolicyBuilder().Build(),
				circuitbreaker.NewBuilder[*http.Response]().WithFailureThreshold(5).WithDelay(30*time.Second).Build(),
				timeout.New[*http.Response](10*time.Second)))
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			inner := newInner()
			if t, ok := inner.(*http.Transport); ok {
				defer t.CloseIdleConnections()
			}
			client := &http.Client{Transport: c.make(inner)}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
