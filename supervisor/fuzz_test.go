package supervisor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// FuzzExecuteParsedPolicy runs a trivial function under every policy policy.ParseJSON
// accepts, on one engine shared by all inputs (so fuzzed names, thresholds and rates
// meet the actors earlier inputs created), with a 50ms deadline. The engine must never
// panic, must answer within the deadline plus a generous bound whatever the policy
// (huge attempt counts, saturating backoffs, tiny rates, long timeouts), and must
// answer with a success or an error the policy explains. Run it with
//
//	go test -run='^$' -fuzz=FuzzExecuteParsedPolicy -fuzztime=3m ./supervisor/
func FuzzExecuteParsedPolicy(f *testing.F) {
	for _, seed := range []string{
		`{"type":"none"}`,
		`{"type":"retry","max_attempts":3}`,
		`{"type":"retry","max_attempts":1099511627776,"backoff":{"type":"fixed","interval":"0s"}}`,
		`{"type":"retry","max_attempts":3,"backoff":{"type":"exponential","initial_delay":"1ns","multiplier":1e308}}`,
		`{"type":"retry","max_attempts":5,"backoff":{"type":"linear","initial":"2562047h47m16.854775807s","step":"2562047h47m16.854775807s"}}`,
		`{"type":"retry","max_attempts":4,"backoff":{"type":"decorrelated","base":"1ms","max":"3ms"}}`,
		`{"type":"retry","max_attempts":5,"backoff":{"type":"fixed","interval":"1ms"},"max_duration":"3ms","max_retry_after":"1ns","attempt_timeout":"1ms"}`,
		`{"type":"circuit_breaker","name":"fz","failure_threshold":1,"recovery_timeout":"2562047h47m16.854775807s"}`,
		`{"type":"circuit_breaker","failure_threshold":2,"recovery_timeout":"1ms","success_threshold":9223372036854775807}`,
		`{"type":"rate_limit","name":"fz","requests_per_second":5e-324,"max_wait":"2562047h47m16.854775807s"}`,
		`{"type":"rate_limit","requests_per_second":1.7976931348623157e308,"burst":9223372036854775807}`,
		`{"type":"timeout","duration":"2562047h47m16.854775807s"}`,
		`{"type":"timeout","duration":"1ns"}`,
		`{"type":"bulkhead","name":"fz","max_concurrent":1,"max_queue":1073741823,"lifo":true}`,
		`{"type":"combine","policies":[{"type":"retry","max_attempts":3,"backoff":{"type":"fixed","interval":"1ms"}},{"type":"bulkhead","name":"fz-b","max_concurrent":2,"max_queue":1,"max_wait":"2562047h47m16.854775807s"},{"type":"timeout","duration":"1ms"}]}`,
		`{"type":"combine","policies":[{"type":"retry","max_attempts":3,"backoff":{"type":"fixed","interval":"1ms"}},{"type":"circuit_breaker","name":"fz-c","failure_threshold":2,"recovery_timeout":"5ms"},{"type":"rate_limit","name":"fz-c","requests_per_second":100,"max_wait":"10ms"},{"type":"timeout","duration":"5ms"}]}`,
		`{"type":"combine","policies":[{"type":"timeout","duration":"20ms"},{"type":"retry","max_attempts":100000,"backoff":{"type":"fixed","interval":"0s"}}]}`,
	} {
		f.Add([]byte(seed), uint8(0))
		f.Add([]byte(seed), uint8(1))
	}
	var (
		once sync.Once
		e    *Engine
	)
	f.Cleanup(func() {
		if e == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			f.Errorf("Shutdown: %v", err)
		}
	})
	const deadline, bound = 50 * time.Millisecond, 5 * time.Second
	f.Fuzz(func(t *testing.T, doc []byte, mode uint8) {
		p, err := policy.ParseJSON(doc)
		if err != nil {
			return // ParseJSON's own fuzz test checks its errors
		}
		once.Do(func() {
			var err error
			if e, err = New(WithIdleTimeout(time.Second)); err != nil {
				t.Fatal(err)
			}
		})
		fn := func(ctx context.Context) (int, error) {
			switch mode % 4 {
			case 1:
				return 0, errTemporary
			case 2:
				return 0, policy.Permanent(relErrBadRequest)
			case 3:
				panic("fuzz: the function panicked")
			}
			return 7, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		v, err := ExecuteWithPolicy(ctx, e, p, fn)
		if d := time.Since(start); d > deadline+bound {
			t.Fatalf("%v: answered after %v with a %v deadline", p, d, deadline)
		}
		switch {
		case err == nil:
			if v != 7 || mode%4 != 0 {
				t.Fatalf("%v: success (%d) from a function that returned %d", p, v, mode%4)
			}
		case errors.Is(err, policy.ErrInvalidPolicy):
			t.Fatalf("%v: ParseJSON accepted it but the engine refused it: %v", p, err)
		case !relCleanError(err):
			t.Fatalf("%v: unexplained error %v", p, err)
		}
	})
}
