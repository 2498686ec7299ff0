package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// This file is the simulated infrastructure: a flaky payment network, a database, a
// fraud-scoring API, a cache and a mailer, all in memory. Their failures are transient
// (plain errors, which the engine retries) and come from a seeded random source or a
// fixed script, so a run's output is the same every time.

// errTransient is a failure that may go away on the next attempt.
var errTransient = errors.New("connection reset by peer")

// FlakyProcessor is a simulated payment network: a share of its charges fail
// transiently, and the card network can be taken down. It is safe for concurrent use.
type FlakyProcessor struct {
	mu          sync.Mutex
	rng         *rand.Rand
	failureRate float64
	down        map[string]bool // methods whose network is down
	charges     int
}

// NewFlakyProcessor returns a processor whose charges fail transiently with
// probability failureRate, drawn from a random source seeded with seed.
func NewFlakyProcessor(seed uint64, failureRate float64) *FlakyProcessor {
	return &FlakyProcessor{rng: rand.New(rand.NewPCG(seed, seed)), failureRate: failureRate, down: map[string]bool{}}
}

// SetDown takes the network of method down, or brings it back.
func (f *FlakyProcessor) SetDown(method string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[method] = down
}

// Charge implements Charger.
func (f *FlakyProcessor) Charge(ctx context.Context, amount int64, method string) (PaymentResult, error) {
	if err := ctx.Err(); err != nil {
		return PaymentResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down[method] {
		return PaymentResult{}, fmt.Errorf("%s network: %w", method, errTransient)
	}
	if f.rng.Float64() < f.failureRate {
		return PaymentResult{}, fmt.Errorf("processor: %w", errTransient)
	}
	f.charges++
	return PaymentResult{TransactionID: fmt.Sprintf("txn-%04d", f.charges), Amount: amount, Method: method}, nil
}

// accountDB is a simulated database of account balances. Its first query fails
// transiently, as a stale pooled connection would.
type accountDB struct {
	mu       sync.Mutex
	balances map[string]int64
	queries  int
}

func (db *accountDB) Balance(ctx context.Context, customer string) (int64, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.queries++
	if db.queries == 1 {
		return 0, fmt.Errorf("database: %w", errTransient)
	}
	b, ok := db.balances[customer]
	if !ok {
		return 0, fmt.Errorf("database: no account for %q", customer)
	}
	return b, nil
}

// fraudAPI is a simulated external fraud-scoring API; its third call fails transiently.
type fraudAPI struct {
	mu    sync.Mutex
	calls int
}

func (a *fraudAPI) Score(ctx context.Context, customer string, amount int64) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.calls == 3 {
		return 0, fmt.Errorf("fraud api: %w", errTransient)
	}
	return int(amount % 97), nil
}

// idempotencyCache remembers the payments already completed, by request ID.
type idempotencyCache struct {
	mu   sync.Mutex
	done map[string]PaymentResult
}

func (c *idempotencyCache) Get(ctx context.Context, id string) (PaymentResult, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.done[id]
	return r, ok, nil
}

func (c *idempotencyCache) Put(ctx context.Context, id string, r PaymentResult) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done[id] = r
	return nil
}

// mailer sends receipts; the first attempt of every second receipt fails transiently.
type mailer struct {
	mu       sync.Mutex
	attempts map[string]int // by transaction ID
	order    map[string]int // 1 for the first receipt asked for, 2 for the next...
}

func (m *mailer) SendReceipt(ctx context.Context, r PaymentResult) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.order[r.TransactionID]; !ok {
		m.order[r.TransactionID] = len(m.order) + 1
	}
	m.attempts[r.TransactionID]++
	if m.order[r.TransactionID]%2 == 0 && m.attempts[r.TransactionID] == 1 {
		return fmt.Errorf("mailer: %w", errTransient)
	}
	return nil
}
