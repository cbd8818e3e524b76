package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
)

// TestMain lets a test start this test binary as the real miniback
// process, so that it can be killed with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("MB_TEST_RUN_MAIN") == "1" {
		if path := os.Getenv("MB_TEST_CPUPROFILE"); path != "" {
			os.Exit(runProfiled(path)) // a benchmark profiles this child
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		os.Exit(exitCode(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr), os.Stderr))
	}
	os.Exit(m.Run())
}

// process is miniback running as a child process.
type process struct {
	cmd  *exec.Cmd
	base string
}

func startProcess(t *testing.T, configFile, addr string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--config", configFile)
	cmd.Env = append(childEnv(), "MB_TEST_RUN_MAIN=1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, base: "http://" + addr}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 200 {
		if resp, err := http.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("miniback did not become ready")
	return nil
}

// childEnv is this process's environment without the MINIBACK_ variables
// (MINIBACK_TEST_POSTGRES_URL and the like would be unknown settings to the
// child's configuration).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIBACK_") {
			env = append(env, kv)
		}
	}
	return env
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestKill9WhileHandlingThenRestart kills the process with SIGKILL while
// the router is handling a push (its webhook is holding the message), then
// restarts it: the push is handled to the end exactly once, and WeChat's
// later retry of it is not handled again.
func TestKill9WhileHandlingThenRestart(t *testing.T) {
	var mu sync.Mutex
	var deliveries []string
	holdFirst := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		deliveries = append(deliveries, r.Header.Get("X-Miniback-Delivery"))
		first := len(deliveries) == 1
		mu.Unlock()
		if first {
			<-holdFirst // the process is killed while we hold it
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	defer close(holdFirst)

	dir := t.TempDir()
	addr := freeAddr(t)
	demo := config.DemoApp()
	cfgFile := filepath.Join(dir, "miniback.yaml")
	yaml := fmt.Sprintf(`listen: %q
data_dir: %q
queue:
  ack_wait: 2s
wechat:
  api_base: sandbox
admin:
  api_keys: [%q]
apps:
  - appid: %s
    secret: %s
    token: %s
    aes_key: %s
    msg_format: JSON
push:
  rules:
    - msg_type: text
      handler: webhook
      webhook_url: %q
      webhook_secret: crash-test-secret
`, addr, filepath.Join(dir, "data"), adminKey, demo.AppID, demo.Secret, demo.Token, demo.AESKey, hook.URL)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	push := map[string]any{"appid": demo.AppID, "message": map[string]any{"ToUserName": "gh_1", "FromUserName": "o-crash",
		"CreateTime": time.Now().Unix(), "MsgType": "text", "Content": "survive", "MsgId": 123456789012345678}}

	p := startProcess(t, cfgFile, addr)
	if status, body := postJSON(t, p.base+"/sandbox/push", push); status != 200 || body["body"] != "success" {
		t.Fatalf("push: %d %v", status, body)
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(deliveries) == 1 })
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL mid-handling
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p = startProcess(t, cfgFile, addr)
	waitFor(t, func() bool {
		var in inboxAnswer
		getJSON(t, p.base+"/admin/v1/"+demo.AppID+"/inbox", &in)
		return len(in.Messages) == 1 && in.Messages[0].Status == "handled"
	})
	// WeChat retries the same push: answered success, not handled again.
	if status, body := postJSON(t, p.base+"/sandbox/push", push); status != 200 || body["body"] != "success" {
		t.Fatalf("repeat push: %d %v", status, body)
	}
	var in inboxAnswer
	getJSON(t, p.base+"/admin/v1/"+demo.AppID+"/inbox", &in)
	mu.Lock()
	defer mu.Unlock()
	if len(in.Messages) != 1 || in.Messages[0].Status != "handled" {
		t.Fatalf("inbox = %+v", in)
	}
	// One delivery cut off by the kill, one that completed; same delivery id.
	if len(deliveries) != 2 || deliveries[0] != deliveries[1] {
		t.Fatalf("webhook deliveries = %v, want the same delivery twice", deliveries)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met in time")
}

func postJSON(t *testing.T, url string, v any) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(v)
	resp, err := http.Post(url, "application/json", bytesReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(out)
}
