package pipeline

import (
	"context"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// budgetRef is a stage's named retry budget: its name and the resolved actor, cached.
type budgetRef struct {
	name   string
	cached atomic.Pointer[actors.BudgetLink]
}

// withoutBudget returns p with no Budget, to ask whether the rest of it is plain.
func withoutBudget(p policy.RetryPolicy) policy.RetryPolicy {
	p.Budget = ""
	return p
}

// directRules are the retry rules of a direct (plain) Retry of c: plainRules, with the
// plan's budget when it has one.
func (c *Call) directRules() retryRules {
	rules := plainRules
	rules.budget = c.budget
	return rules
}

// newBudgetRef returns the reference to the budget name, or nil for "" (no budget).
func newBudgetRef(name string) *budgetRef {
	if name == "" {
		return nil
	}
	return &budgetRef{name: name}
}

// link resolves the budget for c: from the cache, else from the registry, which creates
// an unregistered name as policy.DefaultBudget().
func (b *budgetRef) link(c *Call) (*actors.BudgetLink, error) {
	if l := b.cached.Load(); l != nil && !l.View().Retired {
		return l, nil
	}
	return resolveLink(c, c.env.Registry.Budgets, &b.cached, true, b.name, policy.DefaultBudget())
}

// deposit pays one first attempt into the budget b: one striped atomic add once the
// budget is resolved. It runs after the first attempt, so a budget never delays one
// (BG-3). The cached actor is used until it passivates; a deposit that lands as it stops
// is lost, as are the deposits of a budget that cannot be resolved (the engine is
// shutting down, the caller gave up): the call's result stands.
func (c *Call) deposit(b *budgetRef) {
	if l := b.cached.Load(); l != nil && !l.Passivating() {
		l.Deposit()
		return
	}
	c.depositSlow(b)
}

// depositSlow is deposit for a budget not resolved yet, or passivated.
//
//go:noinline
func (c *Call) depositSlow(b *budgetRef) {
	l, err := b.link(c)
	if err != nil {
		if ce := c.env.Log.Check(zap.DebugLevel, "retry budget deposit skipped"); ce != nil {
			ce.Write(zap.String("op", c.id), zap.String("budget", b.name), zap.Error(err))
		}
		return
	}
	l.Deposit()
}

// withdraw takes one retry or hedge from the budget b before it starts, and returns nil
// when granted. Refused, the error matches ErrBudgetExhausted and last, the error of the
// attempt that failed last (which may be nil for a hedge that had none). Other errors
// (shutdown, cancellation) carry last too.
func (c *Call) withdraw(ctx context.Context, b *budgetRef, last error) error {
	l, err := b.link(c)
	if err != nil {
		return c.budgetFailed(err, last)
	}
	if l.TryWithdraw() {
		return nil
	}
	env := c.env
	for range 3 {
		if l.View().Retired {
			if l, err = b.link(c); err != nil {
				return c.budgetFailed(err, last)
			}
			if l.TryWithdraw() {
				return nil
			}
			continue
		}
		if err := c.overloaded(l.MailboxDepth()); err != nil {
			return c.budgetFailed(err, last)
		}
		ans, err := env.Inbox.Ask(ctx, l.PID(), l.Stopped(), func(t uint64) any {
			return &messages.Withdraw{Ticket: t}
		}, inbox.UndoNothing)
		if err != nil {
			if err == inbox.Stopped {
				continue
			}
			return c.budgetFailed(c.noAnswer(ctx, err), last)
		}
		switch a := ans.(type) {
		case *messages.Granted:
			return nil
		case *messages.Rejected:
			if a.Reason == messages.BudgetExhausted {
				if ce := env.Log.Check(zap.DebugLevel, "retry budget exhausted"); ce != nil {
					ce.Write(zap.String("op", c.id), zap.String("budget", b.name), zap.Int("attempts", c.attempts), zap.Error(last))
				}
				refusal := &policy.Error{Kind: policy.ErrBudgetExhausted, Op: c.id, Attempts: c.attempts, Err: last}
				c.notifyRejected(ctx, "budget", b.name, refusal)
				return refusal
			}
			if a.Reason == messages.Stopping {
				continue
			}
			return c.budgetFailed(c.rejected(a), last)
		}
	}
	return c.budgetFailed(c.keepsStopping("budget", b.name), last)
}

// budgetFailed is the error of a retry that could not ask its budget: the budget's
// error (a *policy.Error) with the last attempt's error as its cause, when it has one.
func (c *Call) budgetFailed(err, last error) error {
	pe, ok := err.(*policy.Error)
	if !ok || last == nil {
		return err
	}
	out := *pe
	out.Attempts = c.attempts
	if out.Err == nil {
		out.Err = last
	} else {
		out.Err = &causes{out.Err, last}
	}
	return &out
}
