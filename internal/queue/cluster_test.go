package queue

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// natsNode is one nats-server process of a test cluster.
type natsNode struct {
	cmd       *exec.Cmd
	clientURL string
}

func (n *natsNode) kill() {
	if n.cmd.Process != nil {
		n.cmd.Process.Signal(syscall.SIGKILL)
		n.cmd.Wait()
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNATSCluster starts three nats-server processes with JetStream,
// routed to each other on loopback ports, killed when the test ends.
func startNATSCluster(t *testing.T) []*natsNode {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("REQUIRE_TEST_SERVERS") != "" {
			t.Fatal("nats-server is not installed")
		}
		t.Skip("nats-server is not installed; bash .ci/services installs it")
	}
	clusterPorts := []int{freePort(t), freePort(t), freePort(t)}
	var routes []string
	for _, p := range clusterPorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var nodes []*natsNode
	for i, cp := range clusterPorts {
		port := freePort(t)
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", t.TempDir(),
			"-n", fmt.Sprintf("n%d", i), "--cluster_name", "mbtest",
			"--cluster", fmt.Sprintf("nats://127.0.0.1:%d", cp), "--routes", strings.Join(routes, ","))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		n := &natsNode{cmd: cmd, clientURL: fmt.Sprintf("nats://127.0.0.1:%d", port)}
		t.Cleanup(n.kill)
		nodes = append(nodes, n)
	}
	return nodes
}

// TestClusterSurvivesANodeKilled runs the queue on a three-node NATS
// cluster with Replicas 3 and kills the node the connection uses halfway
// through: every message published is still handled, and the stream ends
// empty.
func TestClusterSurvivesANodeKilled(t *testing.T) {
	nodes := startNATSCluster(t)
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.clientURL
	}
	cfg := Config{URL: strings.Join(urls, ","), Replicas: 3, AckWait: 2 * time.Second,
		Stream: "CLUSTERTEST", SubjectPrefix: "clustertest"}
	var q *Queue
	eventually(t, "a JetStream cluster that takes an R3 stream", func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		var err error
		q, err = Open(ctx, cfg)
		return err == nil, nil
	})
	t.Cleanup(func() { q.Close() })
	info, err := q.js.Stream(t.Context(), cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if r := info.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("stream replicas = %d, want 3", r)
	}

	var mu sync.Mutex
	seen := map[string]int{}
	mustConsume(t, q, "outbox", q.Subject("outbox", "*"), func(_ context.Context, d *Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		seen[string(d.Data)]++
		return nil
	})
	handled := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	const total = 200
	publish := func(i int) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			err := q.Publish(ctx, q.Subject("outbox", "wx1"), []byte(fmt.Sprint(i)), fmt.Sprint("m", i))
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("publish %d: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for i := range total / 2 {
		publish(i)
	}
	eventually(t, "the first half handled", func() (bool, error) { return handled() >= total/2, nil })

	killed := q.nc.ConnectedUrl()
	for _, n := range nodes {
		if n.clientURL == killed {
			n.kill()
		}
	}
	for i := total / 2; i < total; i++ {
		publish(i)
	}
	deadline := time.Now().Add(60 * time.Second)
	for handled() < total {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages handled after %s was killed", handled(), total, killed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if u := q.nc.ConnectedUrl(); u == killed || u == "" {
		t.Errorf("connection on %q, want another member than the killed %s", u, killed)
	}
}
