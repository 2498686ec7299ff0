package cluster

import (
	"math"
	"time"

	"github.com/bulwark-go/bulwark/cluster/internal/pb"
)

// leaseOwner is the owner side of one shared limiter: a token bucket whose tokens are
// leased to the nodes in counted batches. It is a pure state machine (no actors, no
// clock): the owner grain and the tests' fake transport drive it.
//
// Accounting (specs/cluster.md §4.6): the bucket T and, per node, n_i, the tokens the
// node may still use, with their expiry e_i. Outstanding O = Σ n_i, and the invariant is
// T + O ≤ Burst: the bucket refills only up to Burst − O. A node reports what it still
// holds with every request (held), so what it used leaves O then; a token leased but
// unused stays counted until the node reports it or its lease expires. Over any window
// of length w the fleet therefore admits at most Burst + rate·w while the owner lives.
// A new owner starts empty, so a move cannot add a burst either.
type leaseOwner struct {
	activation string
	grace      time.Duration // added to a lease's ttl before the owner forgets it

	configured bool
	rate       float64
	burst      float64
	tokens     float64
	last       time.Time

	leases map[string]*nodeLease // by node
	queue  []heldRequest         // FIFO, at most one per node

	requests, granted uint64 // counters for tests and logs
}

// nodeLease is what the owner knows of one node's tokens.
type nodeLease struct {
	n       int64     // tokens the node may still use
	expires time.Time // when the owner stops counting them
	lastSeq uint64
	last    *pb.LeaseGrant // the answer to lastSeq, for a retried request
	queued  bool
}

// heldRequest is a lease request the owner could not serve yet.
type heldRequest struct {
	req    *pb.LeaseRequest
	at     time.Time
	sender any
}

// leaseAnswer is a grant to send to the sender of a request.
type leaseAnswer struct {
	to    any
	grant *pb.LeaseGrant
}

func newLeaseOwner(activation string, grace time.Duration) *leaseOwner {
	return &leaseOwner{activation: activation, grace: grace, leases: map[string]*nodeLease{}}
}

// outstanding returns Σ n_i.
func (o *leaseOwner) outstanding() float64 {
	var sum int64
	for _, l := range o.leases {
		sum += l.n
	}
	return float64(sum)
}

// refill earns tokens up to now with the ceiling Burst − O.
func (o *leaseOwner) refill(now time.Time) {
	if now.After(o.last) {
		o.tokens += now.Sub(o.last).Seconds() * o.rate
		o.last = now
	}
	o.tokens = math.Max(0, math.Min(o.tokens, o.burst-o.outstanding()))
}

// expire forgets the leases whose time is up.
func (o *leaseOwner) expire(now time.Time) {
	for _, l := range o.leases {
		if l.n > 0 && now.After(l.expires) {
			l.n = 0
		}
	}
}

// request handles m from sender at now and returns the answers to send: to m's sender
// and, as the queue moves, to others.
func (o *leaseOwner) request(now time.Time, m *pb.LeaseRequest, sender any) []leaseAnswer {
	o.requests++
	if !o.configured || m.Rate != o.rate || float64(m.Burst) != o.burst {
		if !o.configured {
			o.last = now // a new owner starts empty
		}
		o.refill(now)
		o.configured, o.rate, o.burst = true, m.Rate, float64(max(m.Burst, 1))
	}
	l := o.leases[m.Node]
	if l == nil {
		l = &nodeLease{}
		o.leases[m.Node] = l
	}
	if m.Seq != 0 && m.Seq == l.lastSeq {
		if l.last != nil {
			return []leaseAnswer{{sender, l.last}} // a retry: the stored answer
		}
		if l.queued {
			o.requeue(m.Node, sender)
			return nil
		}
	}
	o.refill(now) // with the old O: the conservative choice
	o.expire(now)
	l.n = max(m.Held, 0) // the node used the rest
	l.expires = now.Add(time.Duration(m.TtlMs)*time.Millisecond + o.grace)
	l.lastSeq, l.last = m.Seq, nil
	o.refill(now)
	if !l.queued {
		l.queued = true
		o.queue = append(o.queue, heldRequest{req: m, at: now, sender: sender})
	} else {
		o.requeue(m.Node, sender)
	}
	return o.serve(now)
}

// requeue points the queued request of node at its newest sender.
func (o *leaseOwner) requeue(node string, sender any) {
	for i := range o.queue {
		if o.queue[i].req.Node == node {
			o.queue[i].sender = sender
		}
	}
}

// wake serves the queue at now: the owner's timer.
func (o *leaseOwner) wake(now time.Time) []leaseAnswer {
	o.refill(now)
	o.expire(now)
	return o.serve(now)
}

// minGrant is the least the head request gets: its MinGrant, at most what it wants.
func minGrant(m *pb.LeaseRequest) int64 {
	return max(1, min(m.MinGrant, m.Want))
}

// serve answers the queue's head while it can be served, FIFO: a head the bucket cannot
// serve yet is held (up to its hold time), and so is everyone behind it.
func (o *leaseOwner) serve(now time.Time) []leaseAnswer {
	var out []leaseAnswer
	for len(o.queue) > 0 {
		h := o.queue[0]
		m := h.req
		l := o.leases[m.Node]
		g := &pb.LeaseGrant{Name: m.Name, Seq: m.Seq, Activation: o.activation}
		have := int64(math.Floor(o.tokens))
		need := minGrant(m)
		switch {
		case m.Want <= 0:
			// A renewal: held refreshed, nothing more wanted.
		case have >= need:
			n := min(m.Want, have)
			o.tokens -= float64(n)
			l.n += n
			l.expires = now.Add(time.Duration(m.TtlMs)*time.Millisecond + o.grace)
			g.Granted = n
			o.granted += uint64(n)
		case now.Sub(h.at) < time.Duration(m.HoldMs)*time.Millisecond:
			return out // held: wake decides
		default:
			g.RetryAfterUs = o.until(need).Microseconds()
		}
		l.last, l.queued = g, false
		o.queue = o.queue[1:]
		out = append(out, leaseAnswer{h.sender, g})
	}
	return out
}

// until returns how long until the bucket holds n tokens.
func (o *leaseOwner) until(n int64) time.Duration {
	missing := float64(n) - o.tokens
	if missing <= 0 || o.rate <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(missing / o.rate * float64(time.Second)))
}

// nextWake returns when the held head can be served or its hold ends, whichever is
// first; false when nothing is held.
func (o *leaseOwner) nextWake(now time.Time) (time.Duration, bool) {
	if len(o.queue) == 0 {
		return 0, false
	}
	h := o.queue[0]
	d := o.until(minGrant(h.req))
	if end := h.at.Add(time.Duration(h.req.HoldMs) * time.Millisecond).Sub(now); end < d {
		d = end
	}
	return max(d, 50*time.Microsecond), true
}
