package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
)

func TestFaultErrcodeCount(t *testing.T) {
	e := newEnv(t)
	r := e.post("/sandbox/faults", nil, map[string]any{"path": "/cgi-bin/token", "errcode": -1, "count": 2})
	if r.Status != http.StatusOK {
		t.Fatalf("inject: %d %s", r.Status, r.Body)
	}
	q := url.Values{"grant_type": {"client_credential"}, "appid": {app1}, "secret": {secret1}}
	wantErrcode(t, e.get("/cgi-bin/token", q), -1)
	if r := e.get("/cgi-bin/token", q); r.errcode() != -1 || !strings.HasPrefix(r.str("errmsg"), "system error") {
		t.Fatalf("second call: %s", r.Body)
	}
	if e.get("/cgi-bin/token", q).str("access_token") == "" {
		t.Fatal("third call must succeed")
	}
	c := e.get("/sandbox/calls", url.Values{"path": {"/cgi-bin/token"}})
	if c.M["count"].(interface{ String() string }).String() != "3" || e.s.Calls("/cgi-bin/token") != 3 {
		t.Fatalf("calls: %s", c.Body)
	}
}

func TestFaultHTTPStatusAndClear(t *testing.T) {
	e := newEnv(t)
	if err := e.s.InjectFault(Fault{Path: "/sns/jscode2session", HTTPStatus: http.StatusBadGateway, Count: 5}); err != nil {
		t.Fatal(err)
	}
	r := e.get("/sns/jscode2session", nil)
	if r.Status != http.StatusBadGateway || len(r.Body) == 0 {
		t.Fatalf("status %d body %q", r.Status, r.Body)
	}
	if r := e.do(http.MethodDelete, "/sandbox/faults", nil, "", nil); r.Status != http.StatusOK {
		t.Fatalf("clear: %d", r.Status)
	}
	wantErrcode(t, e.get("/sns/jscode2session", nil), 40002)
}

func TestFaultValidation(t *testing.T) {
	e := newEnv(t)
	for _, body := range []map[string]any{{"errcode": 1}, {"path": "/x"}, {"path": "/x", "http_status": 9999}} {
		if r := e.post("/sandbox/faults", nil, body); r.Status != http.StatusBadRequest {
			t.Errorf("%v: status %d", body, r.Status)
		}
	}
	if r := e.do(http.MethodPost, "/sandbox/faults", nil, "", []byte("{")); r.Status != http.StatusBadRequest {
		t.Errorf("bad JSON: status %d", r.Status)
	}
	if r := e.get("/sandbox/calls", nil); r.Status != http.StatusBadRequest {
		t.Errorf("calls without path: %d", r.Status)
	}
}

func TestFaultDelay(t *testing.T) {
	e := newEnv(t)
	if err := e.s.InjectFault(Fault{Path: "/cgi-bin/token", DelayMS: 1}); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"grant_type": {"client_credential"}, "appid": {app1}, "secret": {secret1}}
	if e.get("/cgi-bin/token", q).str("access_token") == "" {
		t.Fatal("a delayed call must then behave normally")
	}
	// A delay long enough to outlast the test ends when the caller gives
	// up; ts.Close in Cleanup would hang if the handler kept waiting.
	if err := e.s.InjectFault(Fault{Path: "/cgi-bin/token", DelayMS: 3_600_000}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/cgi-bin/token?"+q.Encode(), nil)
		resp, err := e.ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for e.s.Calls("/cgi-bin/token") < 2 {
		select {
		case err := <-done:
			t.Fatalf("request ended before the server saw it: %v", err)
		default:
		}
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	done := make(chan string, 20)
	for i := range 20 {
		go func() {
			if i%2 == 0 {
				code, _ := e.s.Login(app1, "")
				done <- code
				return
			}
			q := url.Values{"grant_type": {"client_credential"}, "appid": {app1}, "secret": {secret1}}
			resp, err := e.ts.Client().Get(e.ts.URL + "/cgi-bin/token?" + q.Encode())
			if err != nil {
				done <- ""
				return
			}
			defer resp.Body.Close()
			var tr struct {
				AccessToken string `json:"access_token"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&tr)
			done <- tr.AccessToken
		}()
	}
	seen := map[string]bool{}
	for range 20 {
		v := <-done
		if v == "" || seen[v] {
			t.Fatalf("duplicate or empty value %q", v)
		}
		seen[v] = true
	}
}
