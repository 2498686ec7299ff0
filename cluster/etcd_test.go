//go:build etcd

// A real coordination service: protoactor's etcd provider against Debian's etcd-server,
// started by the test on 127.0.0.1 (go test -tags etcd ./cluster/; .ci/steps/30-cluster.sh
// installs etcd-server). Without the etcd binary the test is skipped. Like the other
// multi-member tests it runs without -race (protoactor's remote races on this version).

package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// freePort returns a TCP port free on 127.0.0.1 just now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd starts etcd-server on 127.0.0.1 only and returns its client endpoint.
func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd-server is not installed (apt-get install etcd-server)")
	}
	client, peer := freePort(t), freePort(t)
	ep := fmt.Sprintf("127.0.0.1:%d", client)
	cmd := exec.Command(bin, "--name", "bulwark", "--data-dir", t.TempDir(),
		"--listen-client-urls", "http://"+ep, "--advertise-client-urls", "http://"+ep,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer),
		"--initial-cluster", fmt.Sprintf("bulwark=http://127.0.0.1:%d", peer),
		"--listen-metrics-urls", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ep, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not listen on %s", ep)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ep
}

// etcdProvider returns protoactor's etcd provider on ep under prefix.
func etcdProvider(t testing.TB, ep, prefix string) *etcd.Provider {
	p, err := etcd.NewWithConfig(prefix, clientv3.Config{Endpoints: []string{ep}, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEtcdChild is the child process of TestEtcdKilledOwnerSharingResumes: a member
// that prints its address and waits to be killed.
func TestEtcdChild(t *testing.T) {
	ep, prefix := os.Getenv("BULWARK_ETCD_CHILD"), os.Getenv("BULWARK_ETCD_PREFIX")
	if ep == "" {
		t.Skip("only as the child of TestEtcdKilledOwnerSharingResumes")
	}
	s, err := Start("bulwark-etcd", etcdProvider(t, ep, prefix))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ready %s\n", s.ActorSystem().Address())
	time.Sleep(time.Minute) // killed long before
}

// TestEtcdKilledOwnerSharingResumes: three members on etcd, one of them a child process
// that owns a shared limiter; kill -9 of the child; the survivors degrade to their local
// shares, etcd's lease (3 s, hard-coded in the provider) drops the member, and sharing
// resumes within 6 s of the kill (specs/cluster.md §4.9, real provider).
func TestEtcdKilledOwnerSharingResumes(t *testing.T) {
	ep := startEtcd(t)
	prefix := fmt.Sprintf("/bulwark-test-%d", time.Now().UnixNano())
	child := exec.Command(os.Args[0], "-test.run", "^TestEtcdChild$", "-test.v")
	child.Env = append(os.Environ(), "BULWARK_ETCD_CHILD="+ep, "BULWARK_ETCD_PREFIX="+prefix)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- a
			}
		}
	}()
	ms := make([]*member, 2)
	errs := make(chan error, 2)
	for i := range ms {
		go func() {
			s, err := Start("bulwark-etcd", etcdProvider(t, ep, prefix))
			if err != nil {
				errs <- err
				return
			}
			e, err := supervisor.New(s.Option())
			ms[i] = &member{s: s, e: e}
			errs <- err
		}()
	}
	for range ms {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, m := range ms {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = m.e.Shutdown(ctx)
			_ = m.s.Close(ctx)
			cancel()
		}
	}()
	var childAddr string
	select {
	case childAddr = <-ready:
	case <-time.After(15 * time.Second):
		t.Fatal("the child member did not start")
	}
	deadline := time.Now().Add(10 * time.Second)
	for ms[0].s.Cluster().MemberList.Length() != 3 || ms[1].s.Cluster().MemberList.Length() != 3 {
		if time.Now().After(deadline) {
			t.Fatal("membership did not reach 3")
		}
		time.Sleep(10 * time.Millisecond)
	}
	name := ""
	for i := range 200 {
		n := fmt.Sprintf("etcd-api-%d", i)
		if pid := ms[0].s.Cluster().Get(n, limiterKind); pid != nil && pid.Address == childAddr {
			name = n
			break
		}
	}
	if name == "" {
		t.Fatal("no name owned by the child")
	}
	lp := policy.RateLimit(1000).Named(name).WithBurst(100).AsShared()
	var evs []*events
	for _, m := range ms {
		evs = append(evs, collect(t, m))
		if err := supervisor.Run(context.Background(), m.e, lp, func(context.Context) error { return nil }); err != nil && !errors.Is(err, policy.ErrRateLimited) {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			for _, m := range ms {
				_ = supervisor.Run(context.Background(), m.e, lp, func(context.Context) error { return nil })
			}
		}
	}()
	defer close(stop)
	killed := time.Now()
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i, ev := range evs {
		for {
			if res, ok := ev.first(supervisor.SharedRestored, name); ok {
				after := res.At.Sub(killed)
				deg, _ := ev.first(supervisor.SharedDegraded, name)
				t.Logf("survivor %d: degraded %v after the kill, shared again %v after it (bound 6s)", i, deg.At.Sub(killed), after)
				if after > 6*time.Second {
					t.Errorf("survivor %d: sharing resumed %v after the kill > 6s", i, after)
				}
				break
			}
			if time.Since(killed) > 8*time.Second {
				t.Fatalf("survivor %d: sharing did not resume within 8s of the kill", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("members after the kill: %d", ms[0].s.Cluster().MemberList.Length())
}
