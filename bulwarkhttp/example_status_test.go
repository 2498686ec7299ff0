package bulwarkhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Mount the live status page on a mux of your own, here with its controls for the
// on-call (basic auth), and read it as JSON: a breaker that tripped shows as open.
// Open the same URL in a browser for the page.
func ExampleStatusHandler() {
	engine, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer engine.Shutdown(context.Background())

	inventory := policy.CircuitBreaker(2, 30*time.Second).Named("inventory")
	for range 2 {
		_, _ = supervisor.ExecuteWithPolicy(context.Background(), engine, policy.Policy(inventory),
			func(context.Context) (string, error) { return "", fmt.Errorf("connection refused") })
	}

	mux := http.NewServeMux()
	mux.Handle("/debug/bulwark/", bulwarkhttp.StatusHandler(engine,
		bulwarkhttp.WithControls(func(r *http.Request) bool {
			user, pass, ok := r.BasicAuth()
			return ok && user == "oncall" && pass == "s3cret" // use your own authentication
		})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/debug/bulwark/?format=json")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var status bulwarkhttp.StatusSnapshot
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
		panic(err)
	}
	for _, b := range status.Breakers {
		fmt.Printf("%s: %s after %d failures, %d trip\n", b.Name, b.State, b.Failures, b.Trips)
	}
	fmt.Println("controls:", status.Controls)
	// Output:
	// inventory: open after 2 failures, 1 trip
	// controls: true
}
