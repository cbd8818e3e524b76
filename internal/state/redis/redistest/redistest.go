// Package redistest starts Redis topologies for tests: the shared server
// of MINIBACK_TEST_REDIS_URL, and a Sentinel group or a Cluster of
// redis-server and redis-sentinel processes on free loopback ports, killed
// when the test ends.
//
// Without the server or the binaries, a test is skipped with a message, or
// fails when REQUIRE_TEST_SERVERS or CI is set.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DefaultURL is the shared server the tests use unless
// MINIBACK_TEST_REDIS_URL names another.
const DefaultURL = "redis://127.0.0.1:6379/0"

// missing skips tb, or fails it under CI, for a missing server or binary.
func missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" || os.Getenv("REQUIRE_TEST_SERVERS") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg + "; bash .ci/services installs and starts it")
}

// URL returns the URL of the shared test server after checking that it
// accepts connections.
func URL(tb testing.TB) string {
	tb.Helper()
	raw := os.Getenv("MINIBACK_TEST_REDIS_URL")
	if raw == "" {
		raw = DefaultURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("MINIBACK_TEST_REDIS_URL: %v", err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		missing(tb, "no Redis at %s (MINIBACK_TEST_REDIS_URL)", u.Host)
	}
	c.Close()
	return raw
}

// Server is one redis-server or redis-sentinel process.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	args []string
	dir  string
}

// Kill stops the process with SIGKILL and waits for it.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
	}
	s.cmd = nil
}

// Restart starts the process again with its first arguments and waits
// until it accepts connections.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Kill()
	s.start(tb)
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// binary returns the path of name or skips/fails tb.
func binary(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(tb, "%s is not installed", name)
	}
	return p
}

// startServer runs bin with a config file of lines (port and bind are
// added) in a fresh directory, and waits until it answers.
func startServer(tb testing.TB, bin string, lines ...string) *Server {
	tb.Helper()
	port := FreePort(tb)
	dir := tb.TempDir()
	conf := filepath.Join(dir, "redis.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsave \"\"\nappendonly no\n", port, dir) + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), args: []string{bin, conf}, dir: dir}
	s.start(tb)
	tb.Cleanup(s.Kill)
	return s
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := Command(s.Addr, "PING"); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("%s did not start on %s", filepath.Base(s.args[0]), s.Addr)
}

// Command sends one command in the inline protocol to addr and returns the
// first line of the answer; an error answer is an error.
func Command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", strings.Join(args, " ")); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return "", fmt.Errorf("%s: %s", args[0], line[1:])
	}
	if strings.HasPrefix(line, "$") { // a bulk string: its body follows
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line, nil
}

// SentinelGroup is a master, a replica and three sentinels watching them
// under the master name "mymaster".
type SentinelGroup struct {
	Master, Replica *Server
	Sentinels       []*Server
}

// URL is the redis+sentinel:// URL of the group, database db.
func (g *SentinelGroup) URL(db int) string {
	addrs := make([]string, len(g.Sentinels))
	for i, s := range g.Sentinels {
		addrs[i] = s.Addr
	}
	return fmt.Sprintf("redis+sentinel://%s/mymaster/%d", strings.Join(addrs, ","), db)
}

// StartSentinel starts a SentinelGroup that fails over one second after
// the master stops answering, and waits until every sentinel knows the
// replica and its peers.
func StartSentinel(tb testing.TB) *SentinelGroup {
	tb.Helper()
	server, sentinel := binary(tb, "redis-server"), binary(tb, "redis-sentinel")
	g := &SentinelGroup{Master: startServer(tb, server)}
	g.Replica = startServer(tb, server, "replicaof "+strings.Replace(g.Master.Addr, ":", " ", 1))
	for range 3 {
		g.Sentinels = append(g.Sentinels, startServer(tb, sentinel,
			"sentinel monitor mymaster "+strings.Replace(g.Master.Addr, ":", " ", 1)+" 2",
			"sentinel down-after-milliseconds mymaster 1000",
			"sentinel failover-timeout mymaster 3000",
			"sentinel parallel-syncs mymaster 1"))
	}
	waitFor(tb, 20*time.Second, "the sentinels to see the replica and each other", func() bool {
		for _, s := range g.Sentinels {
			out, err := info(s.Addr, "sentinel")
			if err != nil || !strings.Contains(out, "slaves=1,sentinels=3") {
				return false
			}
		}
		return true
	})
	return g
}

// MasterAddr asks the first live sentinel which server is the master now.
func (g *SentinelGroup) MasterAddr() string {
	for _, s := range g.Sentinels {
		out, err := multiline(s.Addr, "SENTINEL", "get-master-addr-by-name", "mymaster")
		if err == nil && len(out) == 2 {
			return out[0] + ":" + out[1]
		}
	}
	return ""
}

// StartCluster starts a Redis Cluster of three masters without replicas and
// returns its redis+cluster:// URL once every slot is served.
func StartCluster(tb testing.TB) (string, []*Server) {
	tb.Helper()
	server, cli := binary(tb, "redis-server"), binary(tb, "redis-cli")
	var nodes []*Server
	var addrs []string
	for range 3 {
		n := startServer(tb, server, "cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 2000")
		nodes = append(nodes, n)
		addrs = append(addrs, n.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	waitFor(tb, 20*time.Second, "the cluster to serve every slot", func() bool {
		for _, a := range addrs {
			out, err := multilineRaw(a, "CLUSTER", "INFO")
			if err != nil || !strings.Contains(out, "cluster_state:ok") {
				return false
			}
		}
		return true
	})
	return "redis+cluster://" + strings.Join(addrs, ","), nodes
}

// waitFor polls cond every 50 ms until it holds, or fails tb after d.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// info returns the INFO section of the server at addr.
func info(addr, section string) (string, error) {
	return multilineRaw(addr, "INFO", section)
}

// multilineRaw returns a bulk-string answer whole.
func multilineRaw(addr string, args ...string) (string, error) {
	return Command(addr, args...)
}

// multiline returns the elements of an array-of-bulk-strings answer.
func multiline(addr string, args ...string) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", strings.Join(args, " ")); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "*") {
		return nil, fmt.Errorf("not an array: %q %v", head, err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	var out []string
	for range n {
		if _, err := r.ReadString('\n'); err != nil { // $len
			return nil, err
		}
		v, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		out = append(out, strings.TrimRight(v, "\r\n"))
	}
	return out, nil
}

// StartServer starts one redis-server on a free loopback port, killed when
// tb ends; its Kill and Restart stop it and bring it back on that port.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	return startServer(tb, binary(tb, "redis-server"))
}
