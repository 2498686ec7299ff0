// Command microservice shows a bulwark engine protecting a service from a failing
// dependency, live, in one process and on loopback only.
//
// It starts three HTTP servers on 127.0.0.1, on ports the OS picks:
//
//   - an inventory service, the downstream, that goes through four phases spread across
//     the run: healthy; failing (every call answers HTTP 500); slow (latency holds, then
//     climbs past the gateway's timeout); recovering;
//   - a gateway that calls the inventory service through the engine under
//     Combine(Retry(3), CircuitBreaker(5, 1s).Named("downstream"),
//     RateLimit(100).Named("gateway").WithBurst(10), Timeout(200ms)) — the breaker's
//     recovery timeout is a twelfth of the run, 1s for the default 12s — and maps the
//     engine's errors to HTTP statuses: 503 with Retry-After when the breaker is open or
//     the limiter refuses, 504 on a timeout, 502 when the inventory service kept failing;
//   - /metrics, the engine's Prometheus collector (Engine.Collector) served by promhttp
//     from a registry of its own, and beside it /debug/bulwark/, the engine's live status
//     page (bulwarkhttp.StatusHandler): open its URL in a browser while the demo runs to
//     watch the breaker open and close.
//
// A load generator offers the gateway requests from a fixed pool of workers: 80 a
// second, under the limiter's 100 (-rps, -limit), and twice as many in the recovering
// phase, when the clients refused during the outage come back and the limiter sheds the
// excess. While it runs, the program shows the phase, the requests by outcome, the
// attempts the timeout cut off, the breaker's state and the limiter's rejections, and
// prints every breaker state change it receives from Engine.Subscribe: the breaker opens
// while the inventory service fails, half-opens after its recovery timeout, closes again
// while the slow phase's latency holds, opens when its timeouts pile up, and closes once
// a probe succeeds in the recovering phase. It ends by itself with a summary table, shuts
// the servers and the engine down, and exits 0.
//
// Usage:
//
//	go run ./examples/microservice                      # 12 seconds
//	go run ./examples/microservice -duration 30s -rps 60 -limit 80
//	go run ./examples/microservice -debug 2>debug.log   # the engine's debug logs
//	go run ./examples/microservice -plot demo.svg       # and a chart of the run
//
// With -plot, it also draws the run as an SVG chart (plot.go, the standard library
// only): the requests per second by outcome, the breaker's state as a band under them,
// and the phases marked across both. docs/demo.svg is one, drawn by the demo's test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The names of the gateway's breaker and limiter: their keys in Metrics and their
// name label in /metrics.
const (
	breakerName = "downstream"
	limiterName = "gateway"
)

// statusPath is where the metrics server serves the engine's live status page.
const statusPath = "/debug/bulwark/"

// config is what the flags set.
type config struct {
	// Duration is the whole run; the four phases are spread across it, and the breaker's
	// recovery timeout is a twelfth of it. Each phase shows what its story says for any
	// Duration of six seconds or more; below that, the fixed latencies (the 200ms timeout,
	// the backoffs) take too large a part of each phase.
	Duration time.Duration
	// RPS is the rate of requests the load generator offers the gateway; the recovering
	// phase offers twice as many (loadFactor).
	RPS float64
	// Limit is the rate the gateway's limiter admits, in requests per second; its burst
	// is a tenth of it.
	Limit float64
	// Workers bounds the requests in flight.
	Workers int
	// Live redraws the status in place (for a terminal); otherwise one line a second.
	Live bool
	// Logger receives the engine's logs; nil means none.
	Logger *zap.Logger
	// Plot, when not empty, is the path of the SVG chart of the run written at its end.
	Plot string
}

func defaultConfig() config {
	return config{Duration: 12 * time.Second, RPS: 80, Limit: 100, Workers: 32}
}

func main() {
	cfg := defaultConfig()
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the demo runs; the four phases are spread across it")
	flag.Float64Var(&cfg.RPS, "rps", cfg.RPS, "requests per second the load generator offers the gateway, twice as many in the recovering phase")
	flag.Float64Var(&cfg.Limit, "limit", cfg.Limit, "requests per second the gateway's rate limiter admits")
	flag.IntVar(&cfg.Workers, "workers", cfg.Workers, "the load generator's concurrent requests, at most")
	flag.StringVar(&cfg.Plot, "plot", "", "write an SVG chart of the run (outcomes per second, the breaker's state, the phases) to this file")
	debug := flag.Bool("debug", false, "send the engine's debug logs to stderr")
	flag.Parse()

	cfg.Live = isTerminal(os.Stdout)
	if *debug {
		zc := zap.NewDevelopmentConfig()
		zc.Level = zap.NewAtomicLevelAt(zapcore.DebugLevel)
		logger, err := zc.Build()
		if err != nil {
			fmt.Fprintln(os.Stderr, "microservice:", err)
			os.Exit(1)
		}
		defer func() { _ = logger.Sync() }()
		cfg.Logger = logger
	}

	// Ctrl-C ends the run early, with the summary.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "microservice:", err)
		stop()
		os.Exit(1)
	}
}

// isTerminal reports whether f is a character device, such as a terminal.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// recoveryTimeout returns the breaker's recovery timeout for a run of duration d: a
// twelfth of it (1s for the default 12s), so the breaker has the time to half-open and
// close within the slow and the recovering phases whatever the run's length.
func recoveryTimeout(d time.Duration) time.Duration {
	return max((d / 12).Round(time.Millisecond), time.Millisecond)
}

// gatewayPolicy returns the gateway's policy for a run of duration d with a limiter that
// admits limit requests a second, and the breaker and limiter in it. The order is the
// recommended one: each of up to three attempts asks the breaker, takes a token from the
// limiter and has 200ms.
func gatewayPolicy(d time.Duration, limit float64) (policy.CircuitBreakerPolicy, policy.RateLimitPolicy, policy.Policy) {
	breaker := policy.CircuitBreaker(5, recoveryTimeout(d)).Named(breakerName)
	limiter := policy.RateLimit(limit).WithBurst(max(1, int(math.Round(limit/10)))).Named(limiterName)
	backoff := policy.ExponentialBackoff{InitialDelay: 25 * time.Millisecond, Multiplier: 2, MaxDelay: 100 * time.Millisecond, Jitter: true}
	p := policy.Combine(
		policy.Retry(3).WithBackoff(backoff),
		breaker,
		limiter,
		policy.Timeout(200*time.Millisecond),
	)
	return breaker, limiter, p
}

// run runs the demo for cfg.Duration, or until ctx ends, writing its view to out, and
// returns what happened. Everything it starts is stopped before it returns.
func run(ctx context.Context, cfg config, out io.Writer) (summary, error) {
	switch {
	case cfg.Duration <= 0:
		return summary{}, fmt.Errorf("duration must be > 0, got %v", cfg.Duration)
	case !(cfg.RPS > 0) || cfg.RPS > 1e5:
		return summary{}, fmt.Errorf("rps must be > 0 and ≤ 100000, got %g", cfg.RPS)
	case !(cfg.Limit > 0) || cfg.Limit > 1e5:
		return summary{}, fmt.Errorf("limit must be > 0 and ≤ 100000, got %g", cfg.Limit)
	case cfg.Workers < 1:
		return summary{}, fmt.Errorf("workers must be ≥ 1, got %d", cfg.Workers)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = zap.NewNop()
	}

	// The engine, its named breaker and limiter, and a subscription to their state changes.
	eng, err := supervisor.New(supervisor.WithLogger(logger))
	if err != nil {
		return summary{}, err
	}
	var stack cleanup
	defer stack.run()
	stack.push(func(ctx context.Context) error { return eng.Shutdown(ctx) })

	breaker, limiter, pol := gatewayPolicy(cfg.Duration, cfg.Limit)
	if err := eng.RegisterCircuitBreaker(breakerName, breaker); err != nil {
		return summary{}, err
	}
	if err := eng.RegisterRateLimiter(limiterName, limiter); err != nil {
		return summary{}, err
	}
	events, unsubscribe := eng.Subscribe(256)
	defer unsubscribe()

	// /metrics, from a registry of our own.
	reg := prometheus.NewRegistry()
	if err := reg.Register(eng.Collector()); err != nil {
		return summary{}, err
	}

	// Three servers on loopback. The phases start now.
	sched := schedule{start: time.Now(), total: cfg.Duration}
	down := &downstream{sched: sched}
	toDownstream := &http.Client{Transport: newTransport(2 * cfg.Workers)}
	toGateway := &http.Client{Transport: newTransport(cfg.Workers), Timeout: 10 * time.Second}
	stack.push(func(context.Context) error {
		toDownstream.CloseIdleConnections()
		toGateway.CloseIdleConnections()
		return nil
	})
	downMux := http.NewServeMux()
	downMux.Handle("GET /stock", down)
	downURL, err := serve(&stack, downMux)
	if err != nil {
		return summary{}, err
	}
	gw := &gateway{eng: eng, policy: pol, client: toDownstream, base: downURL, sched: sched}
	gwMux := http.NewServeMux()
	gwMux.Handle("GET /api/stock", gw)
	gwURL, err := serve(&stack, gwMux)
	if err != nil {
		return summary{}, err
	}
	metricsMux := http.NewServeMux()
	metricsMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	metricsMux.Handle(statusPath, bulwarkhttp.StatusHandler(eng))
	metricsURL, err := serve(&stack, metricsMux)
	if err != nil {
		return summary{}, err
	}

	fmt.Fprintf(out, "bulwark microservice demo: %v, %g req/s offered by %d workers, all on 127.0.0.1\n", cfg.Duration, cfg.RPS, cfg.Workers)
	fmt.Fprintf(out, "  downstream  %s/stock\n", downURL)
	fmt.Fprintf(out, "  gateway     %s/api/stock\n", gwURL)
	fmt.Fprintf(out, "  policy      %s\n", pol)
	fmt.Fprintf(out, "  metrics     %s/metrics\n", metricsURL)
	fmt.Fprintf(out, "  status      %s%s\n", metricsURL, statusPath)
	from := time.Duration(0)
	for p := healthy; p < numPhases; p++ {
		to := from + time.Duration(share[p]*float64(cfg.Duration))
		fmt.Fprintf(out, "  phase %-10s %5.1fs-%5.1fs  %3g req/s  %s\n", p, from.Seconds(), to.Seconds(), cfg.RPS*loadFactor[p], story[p])
		from = to
	}
	fmt.Fprintln(out)

	// The run: load until the schedule ends (or ctx does), the view alongside.
	runCtx, cancel := context.WithDeadline(ctx, sched.start.Add(cfg.Duration))
	defer cancel()
	t := &tally{}
	v := &view{out: out, live: cfg.Live, eng: eng, sched: sched, tally: t, gw: gw}
	stopView, viewDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(viewDone)
		v.loop(events, stopView)
	}()
	ser := newSeries(sched.start, cfg.Duration, plotSlots)
	lg := &loadgen{client: toGateway, url: gwURL + "/api/stock", sched: sched, tally: t, series: ser}
	lg.run(runCtx, cfg.RPS, cfg.Workers)
	close(stopView)
	<-viewDone

	m := eng.Metrics()
	s := summary{
		Elapsed:     time.Since(sched.start),
		Phases:      t.snapshot(),
		Skipped:     t.skipped.Load(),
		Transitions: v.transitions,
		Breaker:     m.Breakers[breakerName],
		Limiter:     m.Limiters[limiterName],
		Metrics:     m,
		Plot: plot{
			Title:       "bulwark microservice demo: requests per second by outcome, and the breaker's state",
			Subtitle:    fmt.Sprintf("a %v run: %g req/s offered (twice as many when recovering), the limiter admits %g req/s", cfg.Duration, cfg.RPS, cfg.Limit),
			Duration:    cfg.Duration,
			Slot:        ser.slot,
			Rates:       ser.rates(),
			Phases:      phaseStarts(cfg.Duration),
			Breaker:     breakerName,
			Transitions: v.transitions,
		},
	}
	for p := range s.Downstream {
		s.Downstream[p] = down.hits[p].Load()
		s.TimedOut[p] = gw.timedOut[p].Load()
	}
	s.print(out, cfg)
	if cfg.Plot != "" {
		if err := s.Plot.writeFile(cfg.Plot); err != nil {
			return s, fmt.Errorf("plot: %w", err)
		}
		fmt.Fprintf(out, "plot: requests per second by outcome and the breaker's state written to %s\n", cfg.Plot)
	}

	if err := stack.run(); err != nil {
		return s, fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(out, "\nservers and engine shut down cleanly")
	return s, nil
}

// newTransport returns a transport for loopback calls: no proxy, and enough idle
// connections for the workers.
func newTransport(idle int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     30 * time.Second,
	}
}

// serve starts an HTTP server for h on a loopback port the OS picks, pushes its
// shutdown onto stack, and returns its base URL.
func serve(stack *cleanup, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stack.push(func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	})
	return "http://" + ln.Addr().String(), nil
}

// cleanup is a stack of shutdown steps, run last-pushed first, once.
type cleanup struct{ steps []func(context.Context) error }

func (c *cleanup) push(f func(context.Context) error) { c.steps = append(c.steps, f) }

// run runs the steps that have not run yet, with 10 seconds for all of them, and
// returns their errors joined.
func (c *cleanup) run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for len(c.steps) > 0 {
		f := c.steps[len(c.steps)-1]
		c.steps = c.steps[:len(c.steps)-1]
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
