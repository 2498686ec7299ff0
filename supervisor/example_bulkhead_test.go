package supervisor_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Bound the calls to a database to two at a time: a third caller is refused at once
// with ErrConcurrencyLimited while both permits are held, and RegisterBulkhead raises the
// limit live.
func ExampleEngine_RegisterBulkhead() {
	e, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	db := policy.Policy(policy.Bulkhead(2).Named("db"))
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	for range 2 {
		go func() {
			done <- supervisor.Run(context.Background(), e, db, func(context.Context) error {
				started <- struct{}{}
				<-release
				return nil
			})
		}()
		<-started
	}

	err = supervisor.Run(context.Background(), e, db, func(context.Context) error { return nil })
	fmt.Println("third call refused:", errors.Is(err, policy.ErrConcurrencyLimited))

	if err := e.RegisterBulkhead("db", policy.Bulkhead(3)); err != nil {
		panic(err)
	}
	err = supervisor.Run(context.Background(), e, db, func(context.Context) error { return nil })
	fmt.Println("after raising the limit:", err)

	close(release)
	<-done
	<-done
	s := e.Metrics().Bulkheads["db"]
	fmt.Printf("limit %d, admitted %d, rejected %d, in flight %d\n", s.Limit, s.Admitted, s.Rejected, s.InFlight)
	// Output:
	// third call refused: true
	// after raising the limit: <nil>
	// limit 3, admitted 3, rejected 1, in flight 0
}
