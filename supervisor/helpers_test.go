package supervisor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/goleak"
)

var errTemporary = errors.New("temporary failure")

func ok42(context.Context) (int, error) { return 42, nil }

func failing(context.Context) (int, error) { return 0, errTemporary }

// funcOp is an Operation with a fixed ID, policy and function.
type funcOp struct {
	id       string
	critical bool
	policy   policy.Policy
	fn       func(context.Context) (int, error)
}

func (o *funcOp) Policy() policy.Policy                    { return o.policy }
func (o *funcOp) ID() string                               { return o.id }
func (o *funcOp) Critical() bool                           { return o.critical }
func (o *funcOp) Execute(ctx context.Context) (int, error) { return o.fn(ctx) }

// newEngine builds an engine that the test shuts down, failing if Shutdown does.
func newEngine(t *testing.T, opts ...Option) *Engine {
	t.Helper()
	e, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
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

// newEngineNoCleanup builds an engine whose Shutdown the test calls itself, failing if
// New does.
func newEngineNoCleanup(t *testing.T, opts ...Option) *Engine {
	t.Helper()
	e, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// receiveResults waits for n results from an actor client and returns them by ID,
// failing the test if they do not all arrive within 10 s.
func receiveResults(t *testing.T, results <-chan *messages.Result, n int) map[string]*messages.Result {
	t.Helper()
	got := map[string]*messages.Result{}
	for range n {
		select {
		case r := <-results:
			got[r.ID] = r
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d results within 10s: %v", len(got), n, got)
		}
	}
	return got
}

// TestMain fails the package if any goroutine outlives the tests: every test shuts its
// engine down, and no goroutine of the engine may survive Shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
