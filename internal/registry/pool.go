package registry

import (
	"sync"
)

// pool is the dispatcher of the engine's actors: a few long-lived workers run mailbox
// activations, so a hot actor does not pay a goroutine start and a stack regrowth on
// every activation (protoactor's default dispatcher does both). Schedule never blocks:
// when every worker is busy and the queue is full, the job gets a goroutine of its own.
type pool struct {
	jobs       chan func()
	throughput int
	wg         sync.WaitGroup
	mu         sync.RWMutex // guards closed against Schedule racing stop
	closed     bool
}

func newPool(workers, queue, throughput int) *pool {
	p := &pool{jobs: make(chan func(), queue), throughput: throughput}
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

func (p *pool) work() {
	defer p.wg.Done()
	for job := range p.jobs {
		job()
	}
}

// Schedule runs job on a worker, or on a new goroutine when none is free.
func (p *pool) Schedule(job func()) {
	p.mu.RLock()
	if !p.closed {
		select {
		case p.jobs <- job:
			p.mu.RUnlock()
			return
		default:
		}
	}
	p.mu.RUnlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		job()
	}()
}

// Throughput is how many messages an actor handles before yielding its worker.
func (p *pool) Throughput() int { return p.throughput }

// stop lets the workers finish the queued jobs and waits for every goroutine of the pool.
func (p *pool) stop() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.jobs)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
