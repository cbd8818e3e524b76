package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/session"
	"github.com/miniback/miniback/internal/state/redis"
	"github.com/miniback/miniback/internal/state/redis/redistest"
)

// deployment is several miniback processes on one database, one Redis and
// one NATS, behind HAProxy, with the sandbox as its own process standing in
// for WeChat: what production looks like, on loopback.
type deployment struct {
	t         *testing.T
	dir       string
	lb        string // http://haproxy
	wechat    string // http://sandbox
	instances []*instance
	adminKey  string
	app       config.App
	redis     *redis.Store // the deployment's keys in the shared Redis
}

// instance is one miniback process of a deployment.
type instance struct {
	name string
	base string
	addr string
	cfg  string
	log  string   // its stdout and stderr
	env  []string // added to the process's environment
	cmd  *exec.Cmd
}

// deployOptions tune startDeployment.
type deployOptions struct {
	instances int
	extraYAML string // appended to every instance's configuration
}

// startDeployment starts the sandbox, n instances at once (on an empty
// database: their migrations race) and HAProxy in front of them, and waits
// until HAProxy sees every instance ready.
func startDeployment(t *testing.T, dbURL string, o deployOptions) *deployment {
	t.Helper()
	requireBinary(t, "haproxy")
	d := &deployment{t: t, dir: t.TempDir(), adminKey: "admin-" + rand.Text(), app: config.DemoApp()}
	lbAddr, sandboxAddr := freeAddr(t), freeAddr(t)
	d.lb, d.wechat = "http://"+lbAddr, "http://"+sandboxAddr
	d.startSandbox(sandboxAddr)
	signing, seal := filepath.Join(d.dir, "signing.pem"), filepath.Join(d.dir, "seal.key")
	if _, err := session.LoadOrCreateSigningKey(signing); err != nil {
		t.Fatal(err)
	}
	if _, err := session.LoadOrCreateSealKey(seal); err != nil {
		t.Fatal(err)
	}
	redisPrefix := "multi:" + rand.Text()[:10] + ":"
	queuePrefix := "m" + strings.ToLower(rand.Text()[:10])
	t.Cleanup(func() { cleanupShared(t, redisPrefix, queuePrefix) })
	rs, err := openTestRedis(t.Context(), t, redisPrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	d.redis = rs
	for i := range o.instances {
		in := &instance{name: fmt.Sprintf("i%d", i), addr: freeAddr(t)}
		in.base = "http://" + in.addr
		in.cfg = filepath.Join(d.dir, in.name+".yaml")
		in.log = filepath.Join(d.dir, in.name+".log")
		yaml := d.instanceYAML(in, dbURL, redisPrefix, queuePrefix, signing, seal) + o.extraYAML
		if err := os.WriteFile(in.cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		d.instances = append(d.instances, in)
	}
	var wg sync.WaitGroup
	for _, in := range d.instances {
		wg.Go(func() { in.start(t) })
	}
	wg.Wait()
	for _, in := range d.instances {
		in.waitReady(t, 60*time.Second)
	}
	d.startHAProxy(lbAddr)
	return d
}

// instanceYAML is the configuration of one instance.
func (d *deployment) instanceYAML(in *instance, dbURL, redisPrefix, queuePrefix, signing, seal string) string {
	a := d.app
	return fmt.Sprintf(`listen: %q
data_dir: %q
database:
  url: %q
redis:
  url: %q
  prefix: %q
queue:
  url: %q
  prefix: %q
  ack_wait: 2s
wechat:
  api_base: %q
  timeout: 3s
auth:
  signing_key_file: %q
  seal_key_file: %q
admin:
  api_keys: [%q]
log:
  level: debug
apps:
  - appid: %s
    secret: %s
    token: %s
    aes_key: %s
    msg_format: JSON
push:
  rules:
    - msg_type: text
      handler: auto_reply
      reply_text: "got it"
`, in.addr, filepath.Join(d.dir, in.name), dbURL, redistest.URL(d.t), redisPrefix, natsURL(d.t), queuePrefix,
		d.wechat, signing, seal, d.adminKey, a.AppID, a.Secret, a.Token, a.AESKey)
}

// requireBinary skips or fails t when name is not installed.
func requireBinary(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("REQUIRE_TEST_SERVERS") != "" {
			t.Fatalf("%s is not installed", name)
		}
		t.Skipf("%s is not installed; bash .ci/services installs it", name)
	}
}

// startSandbox runs `miniback sandbox` as its own process; the app's pushes
// go to HAProxy's portal route (tests also push to instances directly).
func (d *deployment) startSandbox(addr string) {
	t := d.t
	a := d.app
	cfg := filepath.Join(d.dir, "sandbox.yaml")
	yaml := fmt.Sprintf("listen: %q\ndata_dir: %q\napps:\n  - appid: %s\n    secret: %s\n    token: %s\n    aes_key: %s\n    msg_format: JSON\n    push_url: %q\n",
		addr, filepath.Join(d.dir, "sandbox"), a.AppID, a.Secret, a.Token, a.AESKey, d.lb+"/wx/portal/"+a.AppID)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "sandbox", "--config", cfg, "--listen", addr)
	cmd.Env = append(childEnv(), "MB_TEST_RUN_MAIN=1")
	logf, err := os.Create(filepath.Join(d.dir, "sandbox.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	waitHTTP(t, d.wechat+"/sandbox/calls?path=/x", 20*time.Second)
}

// startHAProxy balances round-robin over the instances and takes an
// instance out while its /readyz fails.
func (d *deployment) startHAProxy(addr string) {
	t := d.t
	var servers strings.Builder
	for _, in := range d.instances {
		fmt.Fprintf(&servers, "  server %s %s check inter 300ms fall 2 rise 1\n", in.name, in.addr)
	}
	cfg := fmt.Sprintf(`global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch
frontend fe
  bind %s
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /readyz
%s`, addr, servers.String())
	path := filepath.Join(d.dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("haproxy", "-db", "-f", path)
	logf, err := os.Create(filepath.Join(d.dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	// Each instance answers through HAProxy before the test starts.
	deadline := time.Now().Add(20 * time.Second)
	for ok := 0; ok < 2*len(d.instances); {
		if time.Now().After(deadline) {
			t.Fatal("HAProxy did not forward to ready instances")
		}
		resp, err := http.Get(d.lb + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode == 200 {
			ok++
		} else {
			ok = 0
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// start runs the instance's process, its output in its log file.
func (in *instance) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--config", in.cfg)
	cmd.Env = append(append(childEnv(), "MB_TEST_RUN_MAIN=1"), in.env...)
	logf, err := os.OpenFile(in.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.cmd = cmd
	t.Cleanup(func() { in.kill(); logf.Close() })
}

// kill stops the process with SIGKILL, at once.
func (in *instance) kill() {
	if in.cmd != nil && in.cmd.Process != nil {
		in.cmd.Process.Signal(syscall.SIGKILL)
		in.cmd.Wait()
	}
	in.cmd = nil
}

// waitReady waits until the instance's /readyz answers 200, and fails t
// with the instance's log after d.
func (in *instance) waitReady(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(in.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	logs, _ := os.ReadFile(in.log)
	t.Fatalf("instance %s not ready after %s; its log:\n%s", in.name, d, tail(logs, 3000))
}

// logs returns what the instance wrote so far.
func (in *instance) logs(t *testing.T) string {
	b, err := os.ReadFile(in.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitHTTP waits until GET url answers anything.
func waitHTTP(t *testing.T, url string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within %s", url, d)
}

// call sends a JSON request to base+path with an optional bearer token and
// decodes the answer into out (when not nil); it returns the status.
func call(t *testing.T, method, url, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil && resp.StatusCode < 300 {
			t.Errorf("%s %s: %d %s: %v", method, url, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// tryCall is call without a test: a transport error is returned.
func tryCall(method, url, token string, body, out any) (int, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}

// login logs a sandbox user in through base and returns the answer.
func (d *deployment) login(base, user string) loginAnswer {
	t := d.t
	t.Helper()
	var code struct{ Code string }
	if st := call(t, "POST", d.wechat+"/sandbox/login", "", map[string]string{"appid": d.app.AppID, "user": user}, &code); st != 200 {
		t.Fatalf("sandbox login: %d", st)
	}
	var l loginAnswer
	if st := call(t, "POST", base+"/api/v1/"+d.app.AppID+"/login", "", map[string]string{"code": code.Code}, &l); st != 200 {
		t.Fatalf("login on %s: %d", base, st)
	}
	return l
}

// calls is how many requests the sandbox received for path.
func (d *deployment) calls(path string) int {
	var out struct{ Count int }
	call(d.t, "GET", d.wechat+"/sandbox/calls?path="+path, "", nil, &out)
	return out.Count
}

// cleanupShared deletes what a deployment left in the shared Redis and
// NATS: keys under its prefix and its stream.
func cleanupShared(t testing.TB, redisPrefix, queuePrefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if rs, err := openTestRedis(ctx, t, redisPrefix); err == nil {
		iter := rs.Client().Scan(ctx, 0, redisPrefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rs.Client().Del(ctx, iter.Val())
		}
		rs.Close()
	}
	deleteTestStream(ctx, t, strings.ToUpper(queuePrefix))
}

func openTestRedis(ctx context.Context, t testing.TB, prefix string) (*redis.Store, error) {
	return redis.Open(ctx, redistest.URL(t), redis.Options{Prefix: prefix})
}

func deleteTestStream(ctx context.Context, t testing.TB, stream string) {
	nc, err := nats.Connect(natsURL(t))
	if err != nil {
		return
	}
	defer nc.Close()
	if js, err := jetstream.New(nc); err == nil {
		js.DeleteStream(ctx, stream)
	}
}
