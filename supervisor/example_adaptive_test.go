package supervisor_test

import (
	"context"
	"fmt"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Let Gradient2 find how many concurrent queries a database takes, starting at 10 and
// staying within [1, 100]; the stats show the limit and what it has sampled.
func ExampleEngine_RegisterAdaptiveLimit() {
	e, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	if err := e.RegisterAdaptiveLimit("db", policy.AdaptiveLimit("gradient2").WithLimits(10, 1, 100)); err != nil {
		panic(err)
	}
	db := policy.AdaptiveLimit("gradient2").Named("db")
	v, err := supervisor.ExecuteWithPolicy(context.Background(), e, db, func(context.Context) (int, error) { return 42, nil })
	s := e.Metrics().AdaptiveLimits["db"]
	fmt.Println(v, err)
	fmt.Printf("limit %d, in flight %d, samples %d\n", s.Limit, s.InFlight, s.Samples)
	fmt.Println(db)
	// Output:
	// 42 <nil>
	// limit 10, in flight 0, samples 1
	// adaptive_limit("gradient2").named("db")
}
