package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/store/storetest"
	"github.com/miniback/miniback/sandbox"
)

// The guarantees of SPEC §11.4 "What a deployment of N instances
// guarantees", each checked through HTTP on three real processes behind
// HAProxy, on PostgreSQL and once more on MySQL: the outbox's claims and
// lease sweep, the inbox's dedup, the refresh-token lock and the
// migrations rest on the SQL engine.

func TestDeploymentPostgres(t *testing.T) {
	runDeploymentChecks(t, storetest.PostgresURL)
}

func TestDeploymentMySQL(t *testing.T) {
	runDeploymentChecks(t, storetest.MySQLURL)
}

// runDeploymentChecks starts three instances on a new, empty database of
// the engine dbURL makes and checks every guarantee on them.
func runDeploymentChecks(t *testing.T, dbURL func(testing.TB) string) {
	if testing.Short() {
		t.Skip("three processes behind HAProxy; not in -short")
	}
	d := startDeployment(t, dbURL(t), deployOptions{instances: 3, extraYAML: "retention:\n  interval: 1s\n"})
	t.Run("StartedAtOnceOnAnEmptyDatabase", func(t *testing.T) { checkStartedAtOnce(t, d) })
	t.Run("BackgroundOncePerDeployment", func(t *testing.T) { checkOncePerDeployment(t, d) })
	t.Run("OneTokenFetch", func(t *testing.T) { checkOneTokenFetch(t, d) })
	t.Run("LogoutEverywhere", func(t *testing.T) { checkLogoutEverywhere(t, d) })
	t.Run("RefreshRace", func(t *testing.T) { checkRefreshRace(t, d) })
	t.Run("PushOnce", func(t *testing.T) { checkPushOnce(t, d) })
	t.Run("OneCodeCall", func(t *testing.T) { checkOneCodeCall(t, d) })
	// Last: it kills an instance.
	t.Run("KillDuringSends", func(t *testing.T) { checkKillDuringSends(t, d) })
}

// checkStartedAtOnce: the instances were started at the same moment on an
// empty database; each came up (none failed its migrations) and they
// share one schema: a user made on one is seen by the others.
func checkStartedAtOnce(t *testing.T, d *deployment) {
	l := d.login(d.instances[0].base, "first")
	for _, in := range d.instances {
		var me struct{ ID int64 }
		if st := call(t, "GET", in.base+"/api/v1/"+d.app.AppID+"/me", l.AccessToken, nil, &me); st != 200 || me.ID != l.User.ID {
			t.Fatalf("%s: /me = %d %+v", in.name, st, me)
		}
	}
}

// checkOneTokenFetch: with no token cached, twelve requests needing it,
// four on each instance at once, cost one token fetch from WeChat.
func checkOneTokenFetch(t *testing.T, d *deployment) {
	openid := d.login(d.instances[0].base, "checker").User.OpenID
	// Background work (the datacube pull) may have fetched one already.
	if err := d.redis.Delete(t.Context(), "wechat:{"+d.app.AppID+"}:token:stable"); err != nil {
		t.Fatal(err)
	}
	before := d.calls("/cgi-bin/stable_token")
	var wg sync.WaitGroup
	for _, in := range d.instances {
		for range 4 {
			wg.Go(func() {
				body := map[string]any{"openid": openid, "content": "hello", "scene": 2}
				if st := call(t, "POST", in.base+"/admin/v1/"+d.app.AppID+"/security/msg-check", d.adminKey, body, nil); st != 200 {
					t.Errorf("%s: msg-check %d", in.name, st)
				}
			})
		}
	}
	wg.Wait()
	if got := d.calls("/cgi-bin/stable_token") - before; got != 1 {
		t.Fatalf("%d token fetches for 12 requests on 3 instances, want 1", got)
	}
}

// checkLogoutEverywhere: a logout on one instance makes the access token
// 401 on the others at once.
func checkLogoutEverywhere(t *testing.T, d *deployment) {
	a, b, c := d.instances[0], d.instances[1], d.instances[2]
	l := d.login(a.base, "leaver")
	me := "/api/v1/" + d.app.AppID + "/me"
	if st := call(t, "GET", b.base+me, l.AccessToken, nil, nil); st != 200 {
		t.Fatalf("me on %s before logout: %d", b.name, st)
	}
	if st := call(t, "POST", a.base+"/api/v1/"+d.app.AppID+"/logout", l.AccessToken, nil, nil); st != 204 {
		t.Fatalf("logout on %s: %d", a.name, st)
	}
	for _, in := range []*instance{b, c} {
		var e errorAnswer
		if st := call(t, "GET", in.base+me, l.AccessToken, nil, &e); st != 401 || e.Error.Code != "unauthorized" {
			t.Fatalf("me on %s right after logout on %s: %d %+v", in.name, a.name, st, e)
		}
	}
}

// checkRefreshRace: one refresh token presented on two instances at the
// same moment: exactly one presentation succeeds.
func checkRefreshRace(t *testing.T, d *deployment) {
	path := "/api/v1/" + d.app.AppID + "/token/refresh"
	for round := range 5 {
		l := d.login(d.instances[0].base, fmt.Sprint("racer", round))
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		start := make(chan struct{})
		for i, in := range d.instances[1:3] {
			wg.Go(func() {
				<-start
				statuses[i] = call(t, "POST", in.base+path, "", map[string]string{"refresh_token": l.RefreshToken}, nil)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, st := range statuses {
			switch st {
			case 200:
				ok++
			case 401:
			default:
				t.Errorf("round %d: refresh answered %d", round, st)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: statuses %v, want exactly one 200", round, statuses)
		}
	}
}

// checkPushOnce: WeChat delivers one push to all three instances at once
// (as its retries may land anywhere): it is stored once and handled once:
// one auto-reply reaches the user.
func checkPushOnce(t *testing.T, d *deployment) {
	openid := d.login(d.instances[0].base, "pusher").User.OpenID
	msgID := time.Now().UnixNano()
	p := d.buildPush(map[string]any{"ToUserName": "gh_1", "FromUserName": openid, "CreateTime": time.Now().Unix(),
		"MsgType": "text", "Content": "hi", "MsgId": msgID})
	var wg sync.WaitGroup
	for _, in := range d.instances {
		wg.Go(func() {
			req, err := p.Request(t.Context())
			if err != nil {
				t.Error(err)
				return
			}
			u, _ := url.Parse(in.base)
			req.URL.Host = u.Host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("push to %s: %v", in.name, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("push to %s: %d", in.name, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	var inbox struct {
		Messages []struct {
			FromUser string `json:"from_user"`
			Status   string
		}
	}
	defer func() {
		if t.Failed() {
			t.Logf("inbox: %+v sent: %v", inbox, d.sent(openid))
			for _, in := range d.instances {
				t.Logf("%s log:\n%s", in.name, tail([]byte(in.logs(t)), 2000))
			}
		}
	}()
	waitUntil(t, 20*time.Second, "the push handled", func() bool {
		call(t, "GET", d.lb+"/admin/v1/"+d.app.AppID+"/inbox?limit=100", d.adminKey, nil, &inbox)
		n, handled := 0, 0
		for _, m := range inbox.Messages {
			if m.FromUser == openid {
				n++
				if m.Status == "handled" {
					handled++
				}
			}
		}
		if n > 1 {
			t.Fatalf("the push is stored %d times", n)
		}
		return handled == 1 && len(d.sent(openid)) >= 1
	})
	time.Sleep(time.Second) // room for a duplicate reply to show up
	if got := d.sent(openid); len(got) != 1 {
		t.Fatalf("%d replies to one push delivered to 3 instances, want 1", len(got))
	}
}

// sent returns the messages the sandbox received for openid.
func (d *deployment) sent(openid string) []map[string]any {
	var out struct{ Messages []map[string]any }
	call(d.t, "GET", d.wechat+"/sandbox/sent?appid="+d.app.AppID+"&openid="+openid, "", nil, &out)
	return out.Messages
}

// buildPush signs and encrypts message as WeChat does for the app, with a
// sandbox of the same app configuration (it never listens).
func (d *deployment) buildPush(message map[string]any) *sandbox.BuiltPush {
	a := d.app
	sb := sandbox.New(sandbox.Config{Apps: []sandbox.App{{AppID: a.AppID, Secret: a.Secret, Token: a.Token,
		AESKey: a.AESKey, MsgFormat: "JSON", PushURL: d.lb + "/wx/portal/" + a.AppID}}})
	defer sb.Close()
	raw, _ := jsonMarshal(message)
	p, err := sb.BuildPush(sandbox.PushRequest{AppID: a.AppID, Message: raw})
	if err != nil {
		d.t.Fatal(err)
	}
	return p
}

// waitUntil polls cond every 100 ms until it holds, failing t after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func randText(n int) string { return rand.Text()[:n] }

// checkOneCodeCall: one mini-program code asked for on three instances at
// once (twice on each) costs one WeChat call, and every answer is the same
// image.
func checkOneCodeCall(t *testing.T, d *deployment) {
	l := d.login(d.instances[0].base, "coder")
	before := d.calls("/wxa/getwxacodeunlimit")
	body := map[string]any{"scene": "id=" + randText(6), "page": "pages/index/index"}
	raw, _ := json.Marshal(body)
	var mu sync.Mutex
	images := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, in := range d.instances {
		for range 2 {
			wg.Go(func() {
				<-start
				req, _ := http.NewRequest("POST", in.base+"/api/v1/"+d.app.AppID+"/wxacode", bytes.NewReader(raw))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+l.AccessToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				img, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					t.Errorf("%s: wxacode %d %s", in.name, resp.StatusCode, img)
					return
				}
				mu.Lock()
				images[string(img)]++
				mu.Unlock()
			})
		}
	}
	close(start)
	wg.Wait()
	if got := d.calls("/wxa/getwxacodeunlimit") - before; got != 1 {
		t.Fatalf("%d WeChat calls for one code asked for on 3 instances at once, want 1", got)
	}
	if len(images) != 1 {
		t.Fatalf("%d different images for one code", len(images))
	}
}

// checkKillDuringSends queues 300 customer messages through HAProxy and
// kills one instance with SIGKILL a third of the way in: every message
// ends sent or failed, none reaches the user twice, and each one sent was
// received exactly once (the killed instance's in-flight sends end failed
// "interrupted" after the lease).
func checkKillDuringSends(t *testing.T, d *deployment) {
	const total = 300
	openid := d.login(d.instances[0].base, "reader").User.OpenID
	ids := make([]string, total)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	killed := make(chan struct{})
	var queued sync.WaitGroup
	queued.Add(total / 3)
	go func() { queued.Wait(); d.instances[1].kill(); close(killed) }()
	for i := range total {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			body := map[string]any{"openid": openid, "msgtype": "text", "text": map[string]string{"content": fmt.Sprint("n-", i)}}
			var m struct{ ID string }
			// HAProxy's 503 (no instance took it) is retried. A request cut
			// by the kill (an error or 502) may or may not have made its
			// message, so it is not retried: a second message of the same
			// content would look like a duplicate send.
			st := 503
			for deadline := time.Now().Add(30 * time.Second); st == 503 && time.Now().Before(deadline); {
				st, _ = tryCall("POST", d.lb+"/admin/v1/"+d.app.AppID+"/messages/customer", d.adminKey, body, &m)
			}
			if st != 202 && st != 502 && st != 0 {
				t.Errorf("message %d: %d", i, st)
			}
			ids[i] = m.ID
			if i < total/3 {
				queued.Done()
			}
		})
	}
	wg.Wait()
	<-killed
	status := map[string]string{}
	waitUntil(t, 150*time.Second, "every message sent or failed", func() bool {
		for _, id := range ids {
			if id == "" {
				continue // its request was cut by the kill
			}
			if s := status[id]; s == "sent" || s == "failed" {
				continue
			}
			var m struct{ Status, Error string }
			if st := call(t, "GET", d.lb+"/admin/v1/"+d.app.AppID+"/messages/"+id, d.adminKey, nil, &m); st != 200 {
				return false
			}
			status[id] = m.Status
			if m.Status != "sent" && m.Status != "failed" {
				return false
			}
		}
		return true
	})
	received := map[string]int{}
	for _, m := range d.sent(openid) {
		raw, _ := json.Marshal(m["body"])
		var body struct{ Text struct{ Content string } }
		json.Unmarshal(raw, &body)
		received[body.Text.Content]++
	}
	failed, cut := 0, 0
	for i, id := range ids {
		content := fmt.Sprint("n-", i)
		switch {
		case id == "":
			cut++
		case received[content] > 1:
			t.Errorf("message %d reached the user %d times", i, received[content])
		case status[id] == "sent" && received[content] != 1:
			t.Errorf("message %d is sent but reached the user %d times", i, received[content])
		case status[id] == "failed":
			failed++
		}
	}
	t.Logf("%d sent, %d failed (interrupted by the kill), %d requests cut by the kill", total-failed-cut, failed, cut)
}

// checkOncePerDeployment: housekeeping runs every second in this
// deployment; across the three instances' logs each one-second window has
// at most one pass, and passes keep coming.
func checkOncePerDeployment(t *testing.T, d *deployment) {
	time.Sleep(4 * time.Second)
	windows := map[int64]string{}
	passes := 0
	for _, in := range d.instances {
		for _, line := range strings.Split(in.logs(t), "\n") {
			if !strings.Contains(line, `"msg":"housekeeping: pass"`) {
				continue
			}
			var rec struct{ Window int64 }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s: %v: %s", in.name, err, line)
			}
			if other, dup := windows[rec.Window]; dup {
				t.Fatalf("window %d ran on %s and on %s", rec.Window, other, in.name)
			}
			windows[rec.Window] = in.name
			passes++
		}
	}
	if passes < 3 {
		t.Fatalf("%d housekeeping passes in 4 s with a 1 s interval", passes)
	}
}
