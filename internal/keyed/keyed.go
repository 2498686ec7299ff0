// Package keyed runs the calls of an integration (bulwarkhttp, bulwarkgrpc) under one
// policy: through a plan prepared once, or, when the integration's key function names
// the call, through supervisor.Execute with that name as the operation ID, so that the
// policy's unnamed breakers, limiters and bulkheads get one actor per key.
package keyed

import (
	"context"
	"fmt"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Runner runs functions returning T under one policy on one engine. Build it with New;
// every call of a Runner whose construction failed returns that error.
type Runner[T any] struct {
	engine *supervisor.Engine
	policy policy.Policy
	plan   *supervisor.Plan
	err    error
}

// New registers the integration's classifier (name, classify) on e, so that a policy
// naming it compiles, and prepares p. A nil e gives an error matching
// policy.ErrInvalidPolicy whose cause is nilEngine.
func New[T any](e *supervisor.Engine, p policy.Policy, name string, classify policy.Classifier, nilEngine error) Runner[T] {
	r := Runner[T]{engine: e, policy: p}
	if e == nil {
		r.err = &policy.Error{Kind: policy.ErrInvalidPolicy, Err: nilEngine}
		return r
	}
	if err := e.RegisterClassifier(name, classify); err != nil {
		r.err = err
		return r
	}
	pl, err := e.Prepare("", p)
	if err != nil {
		r.err = err
		return r
	}
	r.plan = pl
	return r
}

// Err returns the construction's error, nil when the runner works.
func (r *Runner[T]) Err() error { return r.err }

// Run runs fn under the policy with ctx as the caller's context: as the operation id
// when id is not empty, else through the prepared plan.
func (r *Runner[T]) Run(ctx context.Context, id string, fn func(context.Context) (T, error)) (T, error) {
	if r.err != nil {
		var zero T
		return zero, r.err
	}
	if id != "" {
		return supervisor.Execute[T](ctx, r.engine, &operation[T]{id: id, policy: r.policy, fn: fn})
	}
	return supervisor.ExecutePlan(ctx, r.plan, fn)
}

// ID runs key, the user's key function of the integration pkg; a panic in it is the
// call's error, matching policy.ErrPanic.
func ID(pkg string, key func() string) (id string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &policy.Error{Kind: policy.ErrPanic, Err: fmt.Errorf("%s: the WithKey function panicked: %v", pkg, v)}
		}
	}()
	return key(), nil
}

// operation is one keyed call as a policy.Operation.
type operation[T any] struct {
	id     string
	policy policy.Policy
	fn     func(context.Context) (T, error)
}

func (o *operation[T]) Policy() policy.Policy                  { return o.policy }
func (o *operation[T]) Execute(ctx context.Context) (T, error) { return o.fn(ctx) }
func (o *operation[T]) ID() string                             { return o.id }
func (o *operation[T]) Critical() bool                         { return false }
