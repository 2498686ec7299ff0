package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/supervisor"
)

// NewEngine builds an engine with opts and shuts it down when the test ends, failing
// the test if New or Shutdown (given 10 seconds) fails.
func NewEngine(t testing.TB, opts ...supervisor.Option) *supervisor.Engine {
	t.Helper()
	e, err := supervisor.New(opts...)
	if err != nil {
		t.Fatalf("supervisor.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return e
}
