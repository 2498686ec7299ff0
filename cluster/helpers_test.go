package cluster

// requestsTo returns the requests this member's replicas of kind sent to their owners.
func (s *Shared) requestsTo(kind string) uint64 { return s.n.requestsTo(kind) }

// requestsTo returns the requests the node's replicas of kind sent to their owners.
func (n *node) requestsTo(kind string) uint64 {
	var sum uint64
	n.replicas.Range(func(_, v any) bool {
		if s := v.(*status); s.kind == kind {
			sum += s.requests.Load()
		}
		return true
	})
	return sum
}
