package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/load"
)

// upstream is a real HTTP server on loopback that records what it received.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body []string
	hits atomic.Int64
}

func startUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			h(w, r)
			return
		}
		u.hits.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, r)
		u.body = append(u.body, string(b))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "upstream %s %s", r.Method, r.URL.RequestURI())
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t *testing.T) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("the upstream received nothing")
	}
	return u.reqs[len(u.reqs)-1]
}

// raw sends a request with the given headers and returns status, headers and body.
func (e *testEnv) raw(method, path string, body io.Reader, header map[string]string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	e.bodies.Write(b)
	return resp.StatusCode, resp.Header, string(b)
}

// gw is do for paths the gateway serves: the team's services are not in
// miniback's OpenAPI document, so the answer is not validated against it.
func (e *testEnv) gw(method, path, token string, body any, out any) (int, http.Header) {
	e.t.Helper()
	validating := e.client
	e.client = http.DefaultClient
	defer func() { e.client = validating }()
	return e.do(method, path, token, body, out)
}

func route(prefix, auth string, ups ...string) config.Route {
	return config.Route{Prefix: prefix, Upstreams: ups, StripPrefix: true, Auth: auth, Timeout: 5 * time.Second,
		MaxBody: 1 << 10, HealthInterval: 10 * time.Second}
}

func TestGatewayIdentityHeadersAndSpoofing(t *testing.T) {
	up := startUpstream(t, nil)
	shop := "/api/v1/" + config.DemoAppID + "/shop/"
	e := startMain(t, func(c *config.Config) {
		c.Gateway.Routes = []config.Route{
			route("/api/v1/{appid}/shop/", "required", up.URL),
			route("/api/v1/{appid}/shop/public/", "optional", up.URL+"/base"),
			route("/svc/", "none", up.URL),
		}
	})
	l := e.login("gwen")
	spoof := map[string]string{
		"Authorization":      "Bearer " + l.AccessToken,
		"X-Miniback-User-Id": "999999", "X-Miniback-Openid": "spoofed", "X-Miniback-Anything": "x", "X-Miniback-Unionid": "spoofed",
		"Connection": "X-Hop-Secret, Keep-Alive", "X-Hop-Secret": "hop", "Keep-Alive": "timeout=5",
		"Proxy-Authorization": "Basic eDp5", "X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil.example",
		"X-Request-Id": "req-gw-1", "Host": "shop.example",
	}
	st, h, body := e.raw("GET", shop+"items/42?color=red&a=%2F", nil, spoof)
	if st != 200 || body != "upstream GET /items/42?color=red&a=%2F" || h.Get("X-Request-Id") != "req-gw-1" {
		t.Fatalf("forwarded: %d %q %v", st, body, h)
	}
	got := up.last(t).Header
	want := map[string]string{
		"X-Miniback-Appid": config.DemoAppID, "X-Miniback-User-Id": fmt.Sprint(l.User.ID),
		"X-Miniback-Openid": l.User.OpenID, "Authorization": "Bearer " + l.AccessToken,
		"X-Request-Id": "req-gw-1", "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http",
		"X-Forwarded-Host": "shop.example",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("upstream saw %s = %q, want %q", k, got.Get(k), v)
		}
	}
	for _, k := range []string{"X-Miniback-Anything", "X-Hop-Secret", "Keep-Alive", "Proxy-Authorization"} {
		if got.Get(k) != "" {
			t.Errorf("upstream saw %s = %q", k, got.Get(k))
		}
	}

	if u := got.Get("X-Miniback-Unionid"); u == "" || u == "spoofed" {
		t.Errorf("upstream saw X-Miniback-Unionid = %q, want the user's", u)
	}

	// required: no token, a garbled one, or another app's path never reach the upstream.
	before := up.hits.Load()
	var out errorAnswer
	if st, _ := e.gw("GET", shop+"items", "", nil, &out); st != 401 || out.Error.Code != "unauthorized" {
		t.Fatalf("no token: %d %+v", st, out)
	}
	if st, _ := e.gw("GET", shop+"items", "garbage", nil, &out); st != 401 {
		t.Fatalf("bad token: %d", st)
	}
	if st, _ := e.gw("GET", "/api/v1/wxunknown/shop/items", l.AccessToken, nil, &out); st != 404 || out.Error.Code != "app_not_found" {
		t.Fatalf("unknown app: %d %+v", st, out)
	}
	if up.hits.Load() != before {
		t.Fatalf("refused requests reached the upstream")
	}

	// optional: anonymous callers are forwarded without identity, spoofing stripped;
	// the longest prefix wins and the upstream's base path is kept.
	st, _, body = e.raw("POST", shop+"public/list", strings.NewReader("hello"), map[string]string{"X-Miniback-User-Id": "1"})
	if st != 200 || body != "upstream POST /base/list" || up.body[len(up.body)-1] != "hello" {
		t.Fatalf("optional anonymous: %d %q", st, body)
	}
	got = up.last(t).Header
	if got.Get("X-Miniback-User-Id") != "" || got.Get("X-Miniback-Openid") != "" || got.Get("X-Miniback-Appid") != config.DemoAppID {
		t.Fatalf("anonymous identity headers: %v", got)
	}
	// optional with a token: the caller's identity; a bad token is refused, not made anonymous.
	if st, _, _ = e.raw("GET", shop+"public/list", nil, map[string]string{"Authorization": "Bearer " + l.AccessToken}); st != 200 || up.last(t).Header.Get("X-Miniback-User-Id") != fmt.Sprint(l.User.ID) {
		t.Fatalf("optional with a token: %d %v", st, up.last(t).Header)
	}
	if st, _, _ = e.raw("GET", shop+"public/list", nil, map[string]string{"Authorization": "Bearer garbage"}); st != 401 {
		t.Fatalf("optional with a bad token: %d", st)
	}
	// none: no appid, no identity, any path.
	if st, _, body = e.raw("DELETE", "/svc/x", nil, map[string]string{"Authorization": "Bearer " + l.AccessToken}); st != 200 || body != "upstream DELETE /x" {
		t.Fatalf("auth none: %d %q", st, body)
	}
	if got = up.last(t).Header; got.Get("X-Miniback-User-Id") != "" || got.Get("X-Miniback-Appid") != "" {
		t.Fatalf("auth none sent identity: %v", got)
	}
	// Unmatched paths are still 404.
	if st, _ := e.gw("GET", "/svcx", "", nil, &out); st != 404 || out.Error.Code != "not_found" {
		t.Fatalf("unmatched: %d %+v", st, out)
	}
}

// TestGatewayBehindTrustedProxy: the X-Forwarded-* of a peer in
// server.trusted_proxies are kept and extended with that peer.
func TestGatewayBehindTrustedProxy(t *testing.T) {
	up := startUpstream(t, nil)
	e := startMain(t, func(c *config.Config) {
		c.Server.TrustedProxies = []string{"127.0.0.1/32"}
		c.Gateway.Routes = []config.Route{route("/svc/", "none", up.URL)}
	})
	st, _, _ := e.raw("GET", "/svc/x", nil, map[string]string{"X-Forwarded-For": "203.0.113.7, 10.0.0.2",
		"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example", "Host": "lb.internal"})
	if st != 200 {
		t.Fatalf("through the gateway: %d", st)
	}
	got := up.last(t).Header
	for k, v := range map[string]string{"X-Forwarded-For": "203.0.113.7, 10.0.0.2, 127.0.0.1",
		"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example"} {
		if got.Get(k) != v {
			t.Errorf("upstream saw %s = %q, want %q", k, got.Get(k), v)
		}
	}
}

func TestGatewayBodyLimitAndStreaming(t *testing.T) {
	firstPart := make(chan string, 1)
	release := make(chan struct{})
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload": // reads the first bytes before the client sent the rest
			buf := make([]byte, 6)
			io.ReadFull(r.Body, buf)
			firstPart <- string(buf)
			rest, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s%s", buf, rest)
		case "/stream": // sends a first chunk, then waits for the client to have it
			w.Write([]byte("first;"))
			w.(http.Flusher).Flush()
			<-release
			w.Write([]byte("second"))
		default:
			io.Copy(io.Discard, r.Body)
		}
	})
	e := startMain(t, func(c *config.Config) {
		c.Gateway.Routes = []config.Route{route("/svc/", "none", up.URL)}
	})

	var out errorAnswer
	big := strings.Repeat("x", 2<<10)
	if st, _ := e.gw("POST", "/svc/big", "", big, &out); st != 413 || out.Error.Code != "payload_too_large" {
		t.Fatalf("declared length over max_body: %d %+v", st, out)
	}
	// Chunked (no declared length) over the limit: also refused before the upstream.
	req, _ := http.NewRequest("POST", e.base+"/svc/big", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 || up.hits.Load() != 0 {
		t.Fatalf("chunked over max_body: %d, upstream hits %d", resp.StatusCode, up.hits.Load())
	}

	// Request streaming: the upstream gets the first part while the client still holds the rest.
	pr, pw := io.Pipe()
	req, _ = http.NewRequest("POST", e.base+"/svc/upload", pr)
	req.ContentLength = 11
	done := make(chan string, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	pw.Write([]byte("hello "))
	if got := <-firstPart; got != "hello " {
		t.Fatalf("first part = %q", got)
	}
	pw.Write([]byte("world"))
	pw.Close()
	if got := <-done; got != "hello world" {
		t.Fatalf("upload answer = %q", got)
	}

	// Response streaming: the first chunk arrives before the upstream finishes.
	resp, err = http.Get(e.base + "/svc/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first;" {
		t.Fatalf("first chunk = %q, %v", buf, err)
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "second" {
		t.Fatalf("rest = %q", rest)
	}
}

func TestGatewayWebSocketUpgrade(t *testing.T) {
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.Header.Get("X-Miniback-Evil") != "" {
			http.Error(w, "no upgrade", 400)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n') // echo one line back
		rw.WriteString("echo " + line)
		rw.Flush()
	})
	e := startMain(t, func(c *config.Config) { c.Gateway.Routes = []config.Route{route("/ws/", "none", up.URL)} })
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /ws/chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Miniback-Evil: 1\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprintf(conn, "ping\n")
	if line, _ := br.ReadString('\n'); line != "echo ping\n" {
		t.Fatalf("through the upgraded connection: %q", line)
	}
}

func TestGatewayRetriesOnlyIdempotentMethods(t *testing.T) {
	// bad takes the request and hangs up without answering.
	bad := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	good := startUpstream(t, nil)
	e := startMain(t, func(c *config.Config) {
		c.Breaker.Failures = 1000
		r := route("/svc/", "none", bad.URL, good.URL)
		r.Retries = 1
		c.Gateway.Routes = []config.Route{r}
	})
	for i := range 4 {
		if st, _, _ := e.raw("GET", "/svc/get", nil, nil); st != 200 {
			t.Fatalf("GET %d: %d, want 200 after a retry", i, st)
		}
	}
	if st, _, _ := e.raw("PUT", "/svc/put", strings.NewReader("same body"), nil); st != 200 || good.body[len(good.body)-1] != "same body" {
		t.Fatalf("PUT: %d, want 200 with its body after a retry", st)
	}
	badBefore, goodBefore := bad.hits.Load(), good.hits.Load()
	failed := 0
	for range 4 {
		st, _, body := e.raw("POST", "/svc/post", strings.NewReader("{}"), nil)
		switch {
		case st == 502 && strings.Contains(body, `"upstream_unavailable"`):
			failed++
		case st != 200:
			t.Fatalf("POST: %d %s", st, body)
		}
	}
	sent := bad.hits.Load() - badBefore + good.hits.Load() - goodBefore
	if failed == 0 || sent != 4 {
		t.Fatalf("POST: %d failed, upstreams received %d (want some 502s and no retries: 4)", failed, sent)
	}
}

// TestGatewayPassesUpstreamErrorsThrough: an upstream's own 4xx and 5xx
// reach the client unchanged and are not retried; its 5xx still count
// against its breaker.
func TestGatewayPassesUpstreamErrorsThrough(t *testing.T) {
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("X-Upstream", body)
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
	}
	down := startUpstream(t, answer(503, `{"title":"down for maintenance"}`))
	missing := startUpstream(t, answer(404, `{"title":"no such item"}`))
	e := startMain(t, func(c *config.Config) {
		c.Breaker.Failures = 1000
		r := route("/svc/", "none", down.URL, missing.URL)
		r.Retries = 1
		c.Gateway.Routes = []config.Route{r}
	})
	seen := map[int]string{}
	for range 4 {
		st, h, body := e.raw("GET", "/svc/item", nil, nil)
		if h.Get("X-Upstream") != body || h.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%d %q %v: not the upstream's answer", st, body, h)
		}
		seen[st] = body
	}
	if seen[503] != `{"title":"down for maintenance"}` || seen[404] != `{"title":"no such item"}` {
		t.Fatalf("answers seen: %v", seen)
	}
	if n := down.hits.Load() + missing.hits.Load(); n != 4 {
		t.Fatalf("the upstreams got %d requests for 4 GETs: an upstream's answer was retried", n)
	}

	// The same 5xx opens the upstream's breaker (SPEC §14.2).
	e = startMain(t, func(c *config.Config) {
		c.Breaker.Failures, c.Breaker.OpenFor = 2, time.Minute
		c.Gateway.Routes = []config.Route{route("/svc/", "none", down.URL)}
	})
	for range 2 {
		if st, _, body := e.raw("GET", "/svc/item", nil, nil); st != 503 || body != `{"title":"down for maintenance"}` {
			t.Fatalf("before the breaker opens: %d %q", st, body)
		}
	}
	before := down.hits.Load()
	var out errorAnswer
	if st, h := e.gw("GET", "/svc/item", "", nil, &out); st != 503 || out.Error.Code != "upstream_unavailable" || h.Get("Retry-After") == "" {
		t.Fatalf("after two 5xx: %d %+v %v, want the open breaker's 503", st, out, h)
	}
	if down.hits.Load() != before {
		t.Fatal("the open breaker let a request through")
	}
}

func TestGatewayTimeoutAndDeadUpstream(t *testing.T) {
	slow := startUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	dead := startUpstream(t, nil)
	dead.Close()
	e := startMain(t, func(c *config.Config) {
		r := route("/slow/", "none", slow.URL)
		r.Timeout = 100 * time.Millisecond
		c.Gateway.Routes = []config.Route{r, route("/dead/", "none", dead.URL)}
	})
	var out errorAnswer
	if st, _ := e.gw("GET", "/slow/x", "", nil, &out); st != 504 || out.Error.Code != "upstream_timeout" {
		t.Fatalf("slow: %d %+v", st, out)
	}
	if st, _ := e.gw("GET", "/dead/x", "", nil, &out); st != 502 || out.Error.Code != "upstream_unavailable" {
		t.Fatalf("dead: %d %+v", st, out)
	}
}

// eventually polls f every 20 ms for up to 10 s (no timed assertion: the
// deadline only stops a test that would otherwise hang).
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for range 500 {
		if f() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

func TestGatewayBreakerOpensAndHeals(t *testing.T) {
	up := startUpstream(t, nil)
	addr := up.Listener.Addr().String()
	up.Close() // dead: connections are refused
	e := startMain(t, func(c *config.Config) {
		c.Breaker.Failures, c.Breaker.OpenFor, c.Breaker.Probes = 2, 2*time.Second, 1
		c.Gateway.Routes = []config.Route{route("/svc/", "none", "http://"+addr)}
	})
	state := func() float64 {
		fams, _ := scrape(t, e.base)
		return value(fams, "miniback_circuit_state", "target", "http://"+addr)
	}
	if got := state(); got != 0 {
		t.Fatalf("miniback_circuit_state of the upstream at start = %v, want 0", got)
	}
	var out errorAnswer
	for range 2 {
		if st, _ := e.gw("GET", "/svc/x", "", nil, &out); st != 502 || out.Error.Code != "upstream_unavailable" {
			t.Fatalf("dead upstream: %d %+v", st, out)
		}
	}
	st, h := e.gw("GET", "/svc/x", "", nil, &out)
	if ra := h.Get("Retry-After"); st != 503 || out.Error.Code != "upstream_unavailable" || (ra != "1" && ra != "2") {
		t.Fatalf("open breaker: %d %+v Retry-After %q", st, out, h.Get("Retry-After"))
	}
	if got := state(); got != 2 {
		t.Fatalf("miniback_circuit_state of the dead upstream = %v, want 2 (open)", got)
	}
	// The upstream comes back on the same address; after open_for a probe closes the breaker.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	healed := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "back") })}
	go healed.Serve(ln)
	t.Cleanup(func() { healed.Close() })
	eventually(t, "the breaker closes once the upstream is back", func() bool {
		st, _, body := e.raw("GET", "/svc/x", nil, nil)
		return st == 200 && body == "back"
	})
	for range 3 {
		if st, _, _ := e.raw("GET", "/svc/x", nil, nil); st != 200 {
			t.Fatalf("after healing: %d", st)
		}
	}
	if got := state(); got != 0 {
		t.Fatalf("miniback_circuit_state of the healed upstream = %v, want 0", got)
	}
}

func TestGatewayHealthChecks(t *testing.T) {
	var sick atomic.Bool
	sick.Store(true)
	var aChecks atomic.Int64
	a := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			aChecks.Add(1)
			if sick.Load() {
				w.WriteHeader(503)
			}
			return
		}
		io.WriteString(w, "a")
	})
	b := startUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") })
	e := startMain(t, func(c *config.Config) {
		r := route("/svc/", "none", a.URL, b.URL)
		r.HealthPath, r.HealthInterval = "/health", 20*time.Millisecond
		c.Gateway.Routes = []config.Route{r}
	})
	eventually(t, "a's health checked twice", func() bool { return aChecks.Load() >= 2 })
	for range 6 {
		if _, _, body := e.raw("GET", "/svc/x", nil, nil); body != "b" {
			t.Fatalf("an unhealthy upstream was used: %q", body)
		}
	}
	sick.Store(false)
	n := aChecks.Load()
	eventually(t, "a's health checked again", func() bool { return aChecks.Load() >= n+2 })
	seen := map[string]bool{}
	for range 6 {
		_, _, body := e.raw("GET", "/svc/x", nil, nil)
		seen[body] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("round robin over healthy upstreams: %v", seen)
	}
}

// TestLoadThroughGateway runs `miniback load` with the gateway step: every
// request through miniback is answered by the upstream, and each is also
// sent to the upstream directly for comparison.
func TestLoadThroughGateway(t *testing.T) {
	up := startUpstream(t, nil)
	e := startMain(t, func(c *config.Config) {
		c.Gateway.Routes = []config.Route{route("/api/v1/{appid}/shop/", "required", up.URL)}
	})
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"load", "--target", e.base, "--duration", "500ms", "--users", "2",
		"--mix", "gateway=1", "--gateway-path", "/api/v1/{appid}/shop/items", "--gateway-direct", up.URL + "/items", "--json"},
		nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, stderr.String())
	}
	var rep load.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout.String())
	}
	counts := map[string]int64{}
	for _, s := range rep.Steps {
		counts[s.Step] = int64(s.Count)
	}
	if rep.Errors != 0 || counts["gateway"] == 0 || counts["gateway_direct"] != counts["gateway"] {
		t.Fatalf("report: %d errors, steps %v", rep.Errors, counts)
	}
	if up.hits.Load() != 2*counts["gateway"] {
		t.Fatalf("upstream got %d requests, want %d", up.hits.Load(), 2*counts["gateway"])
	}
}
