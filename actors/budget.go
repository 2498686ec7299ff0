package actors

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/names"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// BudgetView is the immutable snapshot a budget actor publishes after every change.
type BudgetView struct {
	// Retired is true once the actor stopped; callers must look the budget up again.
	Retired bool

	balance     float64 // the machine's balance when published, the allowance included
	deposits    uint64  // the machine's deposits when published
	withdrawals uint64  // the machine's withdrawals when published
	refused     uint64
	seenDeposit uint64  // the callers' deposits drained into the machine
	granted     int64   // the allowance published with this view
	perDeposit  float64 // retries one deposit is worth
}

// BudgetLink is the shared side of one named retry budget: a deposit counter callers
// add to with one atomic operation, an allowance of withdrawals the actor publishes in
// advance, which callers take with one compare-and-swap, and the view the actor
// publishes. The actor drains both counters into its TokenBudget on every message and on
// its own timer, once per slice of the TTL. Callers may use Deposit, TryWithdraw, View
// and Stats concurrently; everything else belongs to the actor.
type BudgetLink struct {
	link
	deposited atomic.Uint64 // deposits by callers, since creation
	allowance atomic.Int64  // withdrawals callers may take without asking
	view      atomic.Pointer[BudgetView]
	origin    policy.BudgetPolicy
	own       *budgetOwner
}

// budgetOwner is a budget actor's durable state: the machine and what it has drained of
// the callers' counters. It survives restarts; only the actor touches it.
type budgetOwner struct {
	owner
	budget      *TokenBudget
	seenDeposit uint64
	granted     int64 // the allowance last published
}

// NewBudgetLink returns the shared side of the budget name, configured by p (valid),
// with an empty window at now. Spawn its actor with Producer.
func NewBudgetLink(name string, p policy.BudgetPolicy, now time.Time, hooks Hooks) *BudgetLink {
	own := &budgetOwner{owner: owner{hooks: hooks}, budget: NewTokenBudget(p, now)}
	l := &BudgetLink{link: newLink(name), origin: p, own: own}
	l.lastUsed.Store(now.UnixNano())
	l.settle(now)
	return l
}

// Deposit records one first attempt: one atomic add, drained by the actor.
func (l *BudgetLink) Deposit() { l.deposited.Add(1) }

// TryWithdraw takes one retry from the published allowance without asking the actor
// and reports whether there was one; false means ask the actor (messages.Withdraw).
func (l *BudgetLink) TryWithdraw() bool {
	for {
		n := l.allowance.Load()
		if n <= 0 {
			return false
		}
		if l.allowance.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// Origin returns the configuration the budget was created with.
func (l *BudgetLink) Origin() policy.BudgetPolicy { return l.origin }

// Retired reports whether the actor stopped or is stopping for good.
func (l *BudgetLink) Retired() bool { return l.view.Load().Retired || l.retiring() }

// View returns the latest published view.
func (l *BudgetLink) View() *BudgetView { return l.view.Load() }

// Stats returns the budget's stats as of the latest view plus what callers did since.
func (l *BudgetLink) Stats() messages.BudgetStats {
	v := l.view.Load()
	dep := l.deposited.Load() - v.seenDeposit
	took := uint64(max(v.granted-l.allowance.Load(), 0))
	return messages.BudgetStats{
		Balance:     v.balance + float64(dep)*v.perDeposit - float64(took),
		Deposits:    v.deposits + dep,
		Withdrawals: v.withdrawals + took,
		Refused:     v.refused,
	}
}

// Producer returns the producer to spawn the budget's actor with; every incarnation
// shares this link, so a restart keeps the budget.
func (l *BudgetLink) Producer() actor.Producer {
	return func() actor.Actor { return &Budget{base: base{o: &l.own.owner}, l: l} }
}

// settle drains the callers' counters into the machine at now, takes the unused
// allowance back, publishes a fresh one (every whole retry the machine holds) and the
// view. Only the actor (and NewBudgetLink) calls it.
func (l *BudgetLink) settle(now time.Time) {
	o := l.own
	// What callers took of the allowance is what it lost since it was published: the
	// swap takes the rest back, so no take falls between the two.
	used := o.granted - l.allowance.Swap(0)
	o.budget.Withdraw(now, uint64(max(used, 0)))
	dep := l.deposited.Load()
	o.budget.Deposit(now, dep-o.seenDeposit)
	o.seenDeposit = dep
	o.granted = o.budget.Available(now)
	l.allowance.Store(o.granted)
	l.publish(now)
}

func (l *BudgetLink) publish(now time.Time) {
	o := l.own
	b := o.budget
	d, w, r := b.Counters()
	per := 0.0
	if b.withdraw > 0 {
		per = float64(b.deposit) / float64(b.withdraw)
	}
	l.view.Store(&BudgetView{
		balance: b.Balance(now), deposits: d, withdrawals: w, refused: r,
		seenDeposit: o.seenDeposit, granted: o.granted, perDeposit: per,
	})
}

func (l *BudgetLink) retire() {
	v := *l.view.Load()
	v.Retired = true
	l.view.Store(&v)
}

// Budget is the retry-budget actor: the only writer of one named TokenBudget. It drains
// the callers' deposits and withdrawals, publishes the allowance, answers Withdraw (an
// allowance that was spent), Reconfigure, GetStats and Passivate, and ticks once per
// slice of the TTL so that deposits expire on time.
type Budget struct {
	base
	l *BudgetLink
}

var _ actor.Actor = (*Budget)(nil)

// Receive handles one message.
func (a *Budget) Receive(c actor.Context) {
	l := a.l
	switch c.Message().(type) {
	case *actor.Started:
		a.start(c, &l.link, "budget", zap.Float64("balance", l.Stats().Balance))
		a.settle(c, time.Now())
		return
	case *actor.Stopping:
		a.stopTimer()
		l.settle(time.Now())
		l.allowance.Store(0)
		l.retire()
		return
	}
	if a.common(c, &l.link) {
		return
	}
	now := time.Now()
	l.touch(c.Message(), now)
	switch m := c.Message().(type) {
	case *messages.Withdraw:
		a.request(c, &l.link, m.Ticket)
		l.settle(now)
		if l.TryWithdraw() {
			a.reply = &messages.Granted{Ticket: m.Ticket}
		} else {
			l.own.budget.Refuse(1)
			a.reply = &messages.Rejected{Ticket: m.Ticket, Reason: messages.BudgetExhausted}
		}
	case *messages.Tick:
		if m.Generation != l.own.timerGen {
			return
		}
	case *messages.Reconfigure:
		a.request(c, &l.link, m.Ticket)
		if m.Budget != nil {
			l.settle(now)
			l.own.budget.Reconfigure(*m.Budget, now)
		}
		a.reply = &messages.Acked{Ticket: m.Ticket}
	case *messages.GetStats:
		a.settle(c, now)
		c.Respond(new(l.Stats()))
		return
	case *messages.Passivate:
		l.settle(now)
		idle := !l.Registered() && l.own.budget.Idle(now)
		if idle {
			l.allowance.Store(0)
		}
		if !a.passivate(c, &l.link, m, idle, l.retire) {
			a.settle(c, now)
		}
		return
	default:
		l.own.hooks.logger().Warn("budget: unknown message", zap.String("budget", l.name), zap.String("type", names.TypeName(m)))
		return
	}
	a.settle(c, now)
}

// settle drains and publishes, answers the request in progress, and arms the timer for
// the end of the machine's current slice.
func (a *Budget) settle(c actor.Context, now time.Time) {
	l := a.l
	l.settle(now)
	a.flush(c, &l.link)
	l.own.timerGen++
	a.arm(c, max(l.own.budget.NextExpiry(now), time.Millisecond), l.own.timerGen)
}
