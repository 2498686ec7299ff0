// Command http shows both halves of bulwarkhttp on 127.0.0.1: a shop server whose
// handlers run behind bulwarkhttp.Middleware, and a client whose http.Client sends
// through bulwarkhttp.NewTransport.
//
// The server protects every route with a rate limit and a 200ms timeout, one limiter per
// route (WithKey). Its /stock route fails twice with 503 and Retry-After: 0 before it
// answers, /orders fails once, and /slow never answers within the timeout.
//
// The client retries up to 3 times, asks a breaker named "shop" (open after 3 failures
// in a row) and bounds each attempt to 1s. It then:
//
//   - reads /stock/42 after two retried 503s;
//   - POSTs an order without an Idempotency-Key: sent once, the 503 comes back;
//   - POSTs it again with an Idempotency-Key: retried, created;
//   - asks /slow three times (the server's timeout answers 503 each time), which opens
//     the breaker;
//   - asks /stock/42 again and is refused at once by the open breaker.
//
// Usage:
//
//	go run ./examples/http
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// report is what a run saw, for its test.
type report struct {
	Statuses []int // the status of each request that got a response; 0 for an error
	Hits     map[string]int
	Metrics  supervisor.Metrics
}

// shop is the server's handlers, counting the requests each path saw.
type shop struct {
	stock, orders, slow atomic.Int32
}

func (s *shop) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stock/{id}", func(w http.ResponseWriter, r *http.Request) {
		if s.stock.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "item %s: 7 in stock", r.PathValue("id"))
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if s.orders.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order created: %s", body)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		s.slow.Add(1)
		select {
		case <-time.After(5 * time.Second):
			fmt.Fprint(w, "finally")
		case <-r.Context().Done(): // the middleware's timeout ended it
		}
	})
	return mux
}

func run(ctx context.Context, out io.Writer) (report, error) {
	var r report
	engine, err := supervisor.New()
	if err != nil {
		return r, err
	}
	defer engine.Shutdown(context.Background())

	// The server: a limiter per route and a 200ms timeout around every handler.
	s := &shop{}
	protect := bulwarkhttp.Middleware(engine,
		policy.Combine(policy.RateLimit(100).WithBurst(20), policy.Timeout(200*time.Millisecond)),
		bulwarkhttp.WithKey(func(req *http.Request) string { return "route " + req.Pattern }))
	mux := s.routes()
	srv := &http.Server{Handler: routed(mux, protect(mux))}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		_ = srv.Shutdown(context.Background())
		<-served
	}()
	base := "http://" + lis.Addr().String()

	// The client.
	inner := &http.Transport{}
	defer inner.CloseIdleConnections()
	client := &http.Client{Transport: bulwarkhttp.NewTransport(engine, policy.Combine(
		policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 20 * time.Millisecond}),
		policy.CircuitBreaker(3, time.Minute).Named("shop"),
		policy.Timeout(time.Second),
	), inner)}

	do := func(label string, req *http.Request) {
		resp, err := client.Do(req.WithContext(ctx))
		if err != nil {
			r.Statuses = append(r.Statuses, 0)
			fmt.Fprintf(out, "%-34s error: %s\n", label, explain(err))
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r.Statuses = append(r.Statuses, resp.StatusCode)
		fmt.Fprintf(out, "%-34s %d %s\n", label, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	newReq := func(method, path, body string) *http.Request {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		return req
	}

	do("GET /stock/42", newReq(http.MethodGet, "/stock/42", ""))
	do("POST /orders", newReq(http.MethodPost, "/orders", `{"item":42}`))
	s.orders.Store(0)
	keyed := newReq(http.MethodPost, "/orders", `{"item":42}`)
	keyed.Header.Set("Idempotency-Key", "order-42-1")
	do("POST /orders with Idempotency-Key", keyed)
	do("GET /slow", newReq(http.MethodGet, "/slow", ""))
	do("GET /stock/42 (breaker open)", newReq(http.MethodGet, "/stock/42", ""))

	r.Hits = map[string]int{"stock": int(s.stock.Load()), "orders": int(s.orders.Load()), "slow": int(s.slow.Load())}
	r.Metrics = engine.Metrics()
	fmt.Fprintf(out, "server saw: /stock %d, /orders %d (after the reset), /slow %d\n", r.Hits["stock"], r.Hits["orders"], r.Hits["slow"])
	fmt.Fprintf(out, "breaker %q: %s after %d failures\n", "shop", r.Metrics.Breakers["shop"].State, r.Metrics.Breakers["shop"].Failures)
	return r, nil
}

// routed runs protected for every request, after mux has matched it (so that
// Request.Pattern names the route for WithKey).
func routed(mux *http.ServeMux, protected http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, pattern := mux.Handler(req)
		req.Pattern = pattern
		protected.ServeHTTP(w, req)
	})
}

// explain says which refusal an error is.
func explain(err error) string {
	switch {
	case errors.Is(err, policy.ErrCircuitOpen):
		d, _ := policy.RetryAfter(err)
		return fmt.Sprintf("circuit open, retry in ~%v", d.Round(time.Second))
	case errors.Is(err, policy.ErrTimeout):
		return "timed out"
	}
	return err.Error()
}
