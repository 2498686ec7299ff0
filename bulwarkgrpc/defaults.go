package bulwarkgrpc

import (
	"slices"

	"github.com/bulwark-go/bulwark/policy"
)

// withDefaultClassifier returns p with Classify named by every retry and hedge that
// names no classifier of its own, so that a retry stops on the codes that must not be retried
// (IN-13) and on a pushback that asks it to. Breakers keep theirs: the interceptors'
// errors already say what a breaker counts (the caller's own codes are Permanent).
func withDefaultClassifier(p policy.Policy, depth int) policy.Policy {
	switch pp := p.(type) {
	case policy.RetryPolicy:
		if pp.Classifier == "" {
			pp.Classifier = ClassifierName
			return pp
		}
	case policy.HedgePolicy:
		if pp.Classifier == "" {
			pp.Classifier = ClassifierName
			return pp
		}
	case policy.CombinedPolicy:
		if depth >= policy.MaxDepth {
			return p // invalid anyway: Prepare says so
		}
		ps := slices.Clone(pp.Policies)
		for i, q := range ps {
			ps[i] = withDefaultClassifier(q, depth+1)
		}
		return policy.CombinedPolicy{Policies: ps}
	}
	return p
}
