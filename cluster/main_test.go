//go:build !clustertest && !etcd

package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the tests of the normal (-race) run leave no goroutine behind.
// The multi-member builds (clustertest, etcd) crash members on purpose and inherit
// protoactor's leaks; their Close test checks its own goroutines.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
