package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/miniback/miniback/internal/config"
)

func sandboxCalls(e *testEnv, path string) int {
	var out struct{ Count int }
	e.do("GET", "/sandbox/calls?path="+path, "", nil, &out)
	return out.Count
}

func (e *testEnv) loginStatus(user string) (int, http.Header, errorAnswer) {
	var out errorAnswer
	st, h := e.do("POST", "/api/v1/"+config.DemoAppID+"/login", "", map[string]string{"code": e.code(user)}, &out)
	return st, h, out
}

func TestWeChatBreakerFailsFastAndSendsWait(t *testing.T) {
	e := startMain(t, func(c *config.Config) {
		withAdmin(c)
		c.Breaker.Failures, c.Breaker.OpenFor, c.Breaker.Probes = 2, 3*time.Second, 1
	})
	l := e.login("wendy")
	calls := sandboxCalls(e, "/sns/jscode2session")
	e.do("POST", "/sandbox/faults", "", map[string]any{"path": "/sns/jscode2session", "http_status": 500, "count": 2}, nil)
	for range 2 {
		if st, _, out := e.loginStatus("xavier"); st != 502 || out.Error.Code != "wechat_unavailable" {
			t.Fatalf("WeChat 500: %d %+v", st, out)
		}
	}
	st, h, out := e.loginStatus("xavier")
	if ra := h.Get("Retry-After"); st != 503 || out.Error.Code != "wechat_unavailable" || ra < "1" || ra > "3" || len(ra) != 1 {
		t.Fatalf("open breaker: %d %+v Retry-After %q", st, out, h.Get("Retry-After"))
	}
	if got := sandboxCalls(e, "/sns/jscode2session"); got != calls+2 {
		t.Fatalf("WeChat got %d login calls, want 2: the open breaker must not call", got-calls)
	}
	target := strings.TrimPrefix(e.base, "http://") // the embedded sandbox is WeChat's host
	fams, _ := scrape(t, e.base)
	if got := value(fams, "miniback_circuit_state", "target", target); got != 2 {
		t.Fatalf("miniback_circuit_state{target=%q} = %v while open, want 2", target, got)
	}
	if got := value(fams, "miniback_logins_total", "result", "error"); got != 2 {
		t.Errorf("miniback_logins_total{result=\"error\"} = %v, want 2: a login the breaker refused did not reach WeChat", got)
	}
	for errcode, want := range map[string]float64{"http_5xx": 2, "circuit_open": 1, "network": 0} {
		if got := value(fams, "miniback_wechat_requests_total", "path", "/sns/jscode2session", "errcode", errcode); got != want {
			t.Errorf("miniback_wechat_requests_total{errcode=%q} = %v, want %v", errcode, got, want)
		}
	}
	// A send queued while the breaker is open waits without spending attempts.
	var m messageAnswer
	if st, _ := e.do("POST", "/admin/v1/"+config.DemoAppID+"/messages/customer", adminKey,
		map[string]any{"openid": l.User.OpenID, "msgtype": "text", "text": map[string]string{"content": "later"}}, &m); st != 202 {
		t.Fatalf("send: %d", st)
	}
	e.do("GET", "/admin/v1/"+config.DemoAppID+"/messages/"+m.ID, adminKey, nil, &m)
	if m.Status != "queued" || m.Attempts != 0 {
		t.Fatalf("while open: %+v, want queued with no attempt", m)
	}
	if m = e.waitMessage(m.ID); m.Status != "sent" || m.Attempts != 1 {
		t.Fatalf("after the breaker closed: %+v, want sent at the first attempt", m)
	}
	if st, _, _ := e.loginStatus("xavier"); st != 200 {
		t.Fatalf("login after healing: %d", st)
	}
	if fams, _ := scrape(t, e.base); value(fams, "miniback_circuit_state", "target", target) != 0 {
		t.Fatal("miniback_circuit_state is not 0 once the breaker closed")
	}
}

// checkLimited asserts a 429 rate_limited with the headers of a limit of n.
func checkLimited(t *testing.T, what string, st int, h http.Header, body string, n string) {
	t.Helper()
	if st != 429 || !strings.Contains(body, `"rate_limited"`) {
		t.Fatalf("%s: %d %s, want 429 rate_limited", what, st, body)
	}
	if h.Get("Retry-After") == "" || h.Get("Retry-After") == "0" || h.Get("RateLimit-Limit") != n ||
		h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Reset") == "" {
		t.Fatalf("%s: headers %v", what, h)
	}
}

func TestRateLimitsPerUserKeyAndLogin(t *testing.T) {
	up := startUpstream(t, nil)
	e := startMain(t, func(c *config.Config) {
		withAdmin(c)
		c.Limits.LoginPerIP = config.Rate{N: 2, Per: time.Hour}
		c.Limits.APIPerUser = config.Rate{N: 3, Per: time.Hour}
		c.Limits.AdminPerKey = config.Rate{N: 2, Per: time.Hour}
		c.Gateway.Routes = []config.Route{route("/api/v1/{appid}/shop/", "required", up.URL)}
	})
	app := "/api/v1/" + config.DemoAppID
	alice, bob := e.login("alice"), e.login("bob")
	calls := sandboxCalls(e, "/sns/jscode2session")
	st, h, body := e.raw("POST", app+"/login", strings.NewReader(`{"code":"`+e.code("carl")+`"}`), map[string]string{"Content-Type": "application/json"})
	checkLimited(t, "third login", st, h, body, "2")
	if sandboxCalls(e, "/sns/jscode2session") != calls {
		t.Fatalf("a refused login called WeChat")
	}
	st, h, body = e.raw("POST", app+"/token/refresh", strings.NewReader(`{"refresh_token":"`+alice.RefreshToken+`"}`), map[string]string{"Content-Type": "application/json"})
	checkLimited(t, "refresh", st, h, body, "2")

	// Per user, the gateway included: two API calls and one forwarded, then 429.
	auth := map[string]string{"Authorization": "Bearer " + alice.AccessToken}
	for i, p := range []string{app + "/me", app + "/me", app + "/shop/x"} {
		st, h, _ := e.raw("GET", p, nil, auth)
		if st != 200 || h.Get("RateLimit-Limit") != "3" || h.Get("RateLimit-Remaining") != string(rune('2'-i)) {
			t.Fatalf("call %d: %d %v", i, st, h)
		}
	}
	st, h, body = e.raw("GET", app+"/shop/x", nil, auth)
	checkLimited(t, "fourth call", st, h, body, "3")
	if up.hits.Load() != 1 {
		t.Fatalf("the upstream got %d requests, want 1", up.hits.Load())
	}
	if st, _, _ := e.raw("GET", app+"/me", nil, map[string]string{"Authorization": "Bearer " + bob.AccessToken}); st != 200 {
		t.Fatalf("another user: %d", st)
	}

	// Per admin key.
	for range 2 {
		if st, _, _ := e.raw("GET", "/admin/v1/"+config.DemoAppID+"/users", nil, map[string]string{"Authorization": "Bearer " + adminKey}); st != 200 {
			t.Fatalf("admin: %d", st)
		}
	}
	st, h, body = e.raw("GET", "/admin/v1/"+config.DemoAppID+"/users", nil, map[string]string{"Authorization": "Bearer " + adminKey})
	checkLimited(t, "third admin call", st, h, body, "2")

	fams, _ := scrape(t, e.base)
	for limit, want := range map[string]float64{"login_per_ip": 2, "api_per_user": 1, "admin_per_key": 1, "api_per_ip": 0} {
		if got := value(fams, "miniback_rate_limited_total", "limit", limit); got != want {
			t.Errorf("miniback_rate_limited_total{limit=%q} = %v, want %v", limit, got, want)
		}
	}
}

func TestRateLimitPerIPAndTrustedProxies(t *testing.T) {
	limit := func(c *config.Config) {
		withAdmin(c)
		c.Limits.APIPerIP = config.Rate{N: 2, Per: time.Hour}
	}
	me := "/api/v1/" + config.DemoAppID + "/me"
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }

	// Behind a trusted proxy, X-Forwarded-For names the client. A gateway
	// request counts against the same limit, even outside /api/v1/.
	up := startUpstream(t, nil)
	e := startMain(t, func(c *config.Config) {
		limit(c)
		c.Server.TrustedProxies = []string{"127.0.0.1/32"}
		c.Gateway.Routes = []config.Route{route("/svc/", "none", up.URL)}
	})
	if st, _, _ := e.raw("GET", me, nil, from("203.0.113.7")); st != 401 {
		t.Fatalf("under the limit: %d", st)
	}
	if st, h, _ := e.raw("GET", "/svc/x", nil, from("203.0.113.7")); st != 200 || h.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("gateway call under the limit: %d %v", st, h)
	}
	st, h, body := e.raw("GET", me, nil, from("203.0.113.7"))
	checkLimited(t, "third call from one IP", st, h, body, "2")
	st, h, body = e.raw("GET", "/svc/x", nil, from("203.0.113.7"))
	checkLimited(t, "gateway call over the limit", st, h, body, "2")
	if up.hits.Load() != 1 {
		t.Fatalf("the upstream got %d requests, want 1: a refused request reached it", up.hits.Load())
	}
	if fams, _ := scrape(t, e.base); value(fams, "miniback_rate_limited_total", "limit", "api_per_ip") != 2 {
		t.Fatalf("miniback_rate_limited_total{limit=\"api_per_ip\"} = %v, want 2", value(fams, "miniback_rate_limited_total", "limit", "api_per_ip"))
	}
	if st, _, _ := e.raw("GET", me, nil, from("203.0.113.7, 198.51.100.9")); st != 401 {
		t.Fatalf("another client IP: %d", st)
	}
	// WeChat's pushes are never limited by IP.
	for i := range 4 {
		var ans struct{ Status int }
		e.do("POST", "/sandbox/push", "", map[string]any{"appid": config.DemoAppID, "message": map[string]any{
			"ToUserName": "gh_1", "FromUserName": "o", "CreateTime": time.Now().Unix(), "MsgType": "text", "Content": "hi", "MsgId": 700 + i}}, &ans)
		if ans.Status != 200 {
			t.Fatalf("push %d: %d", i, ans.Status)
		}
	}

	// push_per_app limits an app's pushes (WeChat retries a 429 later).
	e = startMain(t, func(c *config.Config) { c.Limits.PushPerApp = config.Rate{N: 1, Per: time.Hour} })
	for i, want := range []int{200, 429} {
		var ans struct{ Status int }
		e.do("POST", "/sandbox/push", "", map[string]any{"appid": config.DemoAppID, "message": map[string]any{
			"ToUserName": "gh_1", "FromUserName": "o", "CreateTime": time.Now().Unix(), "MsgType": "text", "Content": "hi", "MsgId": 800 + i}}, &ans)
		if ans.Status != want {
			t.Fatalf("push %d with push_per_app 1/h: %d, want %d", i, ans.Status, want)
		}
	}

	// Without trust, X-Forwarded-For is ignored: a client cannot pick a fresh address.
	e = startMain(t, limit)
	e.raw("GET", me, nil, from("10.0.0.1"))
	e.raw("GET", me, nil, from("10.0.0.2"))
	st, h, body = e.raw("GET", me, nil, from("10.0.0.3"))
	checkLimited(t, "spoofed X-Forwarded-For", st, h, body, "2")
}

// testRedisURL is the Redis the cross-instance tests share.
func testRedisURL(t *testing.T) string {
	u := cmpEnv("MINIBACK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
	opts, err := goredis.ParseURL(u)
	if err == nil {
		client := goredis.NewClient(opts)
		err = client.Ping(context.Background()).Err()
		client.Close()
	}
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("REQUIRE_TEST_SERVERS") != "" {
			t.Fatalf("no Redis at %s: %v", u, err)
		}
		t.Skipf("no Redis at %s (%v); bash .ci/run starts one and runs this test", u, err)
	}
	return u
}

func cmpEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func TestRateLimitsAcrossInstancesInRedis(t *testing.T) {
	url := testRedisURL(t)
	prefix := "test:" + rand.Text()[:12] + ":"
	var envs []*testEnv
	for range 2 {
		envs = append(envs, startMain(t, func(c *config.Config) {
			withAdmin(c)
			c.Redis.URL, c.Redis.Prefix = url, prefix
			c.Limits.LoginPerIP = config.Rate{N: 3, Per: time.Hour}
			c.Limits.APIPerUser = config.Rate{N: 2, Per: time.Hour}
			c.Limits.AdminPerKey = config.Rate{N: 2, Per: time.Hour}
			c.Limits.APIPerIP = config.Rate{N: 8, Per: time.Hour}
		}))
	}
	a, b := envs[0], envs[1]
	// Each test instance has its own database, so "u1" is user 1 on both:
	// the same key in the shared counters, as one user on two instances.
	onA, onB := a.login("u1"), b.login("u1")
	a.login("u2")
	st, h, out := b.loginStatus("u3")
	if st != 429 || out.Error.Code != "rate_limited" || h.Get("RateLimit-Limit") != "3" {
		t.Fatalf("fourth login across instances: %d %+v %v", st, out, h)
	}
	me := "/api/v1/" + config.DemoAppID + "/me"
	if st, _ := a.do("GET", me, onA.AccessToken, nil, nil); st != 200 {
		t.Fatalf("me on a: %d", st)
	}
	if st, _ := b.do("GET", me, onB.AccessToken, nil, nil); st != 200 {
		t.Fatalf("me on b: %d", st)
	}
	var e2 errorAnswer
	if st, _ := a.do("GET", me, onA.AccessToken, nil, &e2); st != 429 || e2.Error.Code != "rate_limited" {
		t.Fatalf("third call for user 1: %d %+v", st, e2)
	}
	// One admin key across instances.
	a.do("GET", "/admin/v1/"+config.DemoAppID+"/users", adminKey, nil, nil)
	b.do("GET", "/admin/v1/"+config.DemoAppID+"/users", adminKey, nil, nil)
	if st, _ := a.do("GET", "/admin/v1/"+config.DemoAppID+"/users", adminKey, nil, &e2); st != 429 {
		t.Fatalf("third admin call across instances: %d", st)
	}
	// Per IP: seven /api/v1 requests so far on the two instances; the eighth passes, the ninth not.
	if st, _ := b.do("GET", me, "", nil, &e2); st != 401 {
		t.Fatalf("eighth request from the IP: %d", st)
	}
	st, h, out = a.loginStatus("u4")
	if st != 429 || out.Error.Code != "rate_limited" || h.Get("RateLimit-Limit") != "8" {
		t.Fatalf("ninth request from the IP across instances: %d %+v %v", st, out, h)
	}
}

// TLS material made in the test: a CA and leaf certificates for 127.0.0.1.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leaf writes a certificate with serial for 127.0.0.1 and its key to certFile and keyFile.
func (ca *testCA) leaf(t *testing.T, serial int64, certFile, keyFile string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "miniback"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	writeAt(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial)
	writeAt(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), serial)
}

// writeAt writes a file with a distinct modification time per version, so a
// rewrite is seen even on filesystems with coarse timestamps.
func writeAt(t *testing.T, path string, data []byte, version int64) {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Duration(version) * time.Minute)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func TestTLSServedRotatedAndTrustedForWeChat(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	ca := newTestCA(t)
	ca.leaf(t, 101, certFile, keyFile)
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	e := startMain(t, func(c *config.Config) {
		c.TLS.CertFile, c.TLS.KeyFile, c.TLS.MinVersion = certFile, keyFile, "1.3"
		c.WeChat.CAFile = caFile // the embedded sandbox is served with the same certificate
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	newClient := func() *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	}
	e.client.Transport.(*validatingTransport).next = newClient().Transport
	e.base = strings.Replace(e.base, "http://", "https://", 1)
	serial := func() (int64, int) {
		resp, err := newClient().Get(e.base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), resp.ProtoMajor
	}
	if s, proto := serial(); s != 101 || proto != 2 {
		t.Fatalf("serial %d over HTTP/%d, want 101 over HTTP/2", s, proto)
	}
	// wechat.ca_file: the WeChat client trusts the sandbox's certificate.
	if l := e.login("tess"); l.AccessToken == "" {
		t.Fatal("no login over TLS")
	}
	// Rotation: the next handshake uses the new pair.
	ca.leaf(t, 102, certFile, keyFile)
	if s, _ := serial(); s != 102 {
		t.Fatalf("after rotation: serial %d, want 102", s)
	}
	// A bad new pair is logged and the previous one kept.
	writeAt(t, certFile, []byte("not a certificate"), 103)
	if s, _ := serial(); s != 102 {
		t.Fatalf("after a bad pair: serial %d, want 102 kept", s)
	}
	if !strings.Contains(e.logs.String(), "does not load") {
		t.Fatal("the bad pair was not logged")
	}
	// TLS 1.2 clients are refused with min_version 1.3.
	c12 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12}}}
	if resp, err := c12.Get(e.base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.2 client was served with min_version 1.3")
	}
}

func TestEdgeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := "listen: 127.0.0.1:0\ndata_dir: " + filepath.Join(dir, "data") + "\napps:\n  - appid: wxa\n    secret: s\n"
	gw := func(prefix, upstream string) string {
		return base + "gateway:\n  routes:\n    - prefix: " + prefix + "\n      upstreams: [\"" + upstream + "\"]\n"
	}
	tests := []struct{ name, yaml, key string }{
		{"limit does not parse", base + "limits:\n  login_per_ip: ten/m\n", "limits.login_per_ip"},
		{"limit unit", base + "limits:\n  api_per_ip: 5/d\n", "limits.api_per_ip"},
		{"upstream not http", gw("/api/v1/{appid}/shop/", "ftp://127.0.0.1:21"), "gateway.routes[0].upstreams[0]"},
		{"upstream no host", gw("/api/v1/{appid}/shop/", "http://"), "gateway.routes[0].upstreams[0]"},
		{"overlaps own routes", gw("/api/v1/{appid}/", "http://127.0.0.1:1"), "gateway.routes[0].prefix"},
		{"overlaps me", gw("/api/v1/wxa/me/", "http://127.0.0.1:1"), "gateway.routes[0].prefix"},
		{"overlaps admin", gw("/admin/", "http://127.0.0.1:1") + "      auth: none\n", "gateway.routes[0].prefix"},
		{"overlaps portal", gw("/wx/", "http://127.0.0.1:1") + "      auth: none\n", "gateway.routes[0].prefix"},
		{"auth without appid", gw("/shop/", "http://127.0.0.1:1"), "gateway.routes[0].auth"},
		{"bad auth", gw("/api/v1/{appid}/shop/", "http://127.0.0.1:1") + "      auth: maybe\n", "gateway.routes[0].auth"},
		{"bad max_body", gw("/api/v1/{appid}/shop/", "http://127.0.0.1:1") + "      max_body: lots\n", "gateway.routes[0].max_body"},
		{"bad proxy", base + "server:\n  trusted_proxies: [\"nearby\"]\n", "server.trusted_proxies[0]"},
		{"unreadable cert", base + "tls:\n  cert_file: " + filepath.Join(dir, "none.pem") + "\n  key_file: " + filepath.Join(dir, "none.key") + "\n", "tls.cert_file"},
		{"bad pair", base + "tls:\n  cert_file: " + write("bad.pem", "junk") + "\n  key_file: " + write("bad.key", "junk") + "\n", "tls.cert_file"},
		{"unreadable ca", base + "wechat:\n  ca_file: " + filepath.Join(dir, "none-ca.pem") + "\n", "wechat.ca_file"},
		{"bad min version", base + "tls:\n  min_version: \"1.0\"\n", "tls.min_version"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			file := write(strings.ReplaceAll(tt.name, " ", "_")+".yaml", tt.yaml)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a wrongly accepted config serves until then
			defer cancel()
			err := run(ctx, []string{"serve", "--config", file}, nil, &out, &errb)
			if got := exitCode(err, &errb); got != 2 || !strings.Contains(errb.String(), tt.key) {
				t.Fatalf("case %d: exit %d, stderr %q; want 2 naming %s", i, got, errb.String(), tt.key)
			}
		})
	}
}
