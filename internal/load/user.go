package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miniback/miniback/sandbox"
)

// user is one virtual user: a sandbox identity and, once logged in, its
// tokens. Its mutex is held for a whole step, so one user never runs two
// steps at once (a phone cannot).
type user struct {
	mu      sync.Mutex
	name    string // the sandbox's "user": openids are stable per name
	openid  string
	access  string
	refresh string
}

// needsLogin reports whether step must run with an access token.
func needsLogin(step string) bool {
	return step == StepMe || step == StepRefresh || step == StepPhone || step == StepGateway
}

// runStep runs step for u and records its requests in rec. sched is when
// the step was due (open model); the main request's latency counts from
// then, so time spent queued behind a slow server is not hidden. A zero
// sched counts from the request's start. It reports whether a request
// failed without an answer.
func (rn *runner) runStep(ctx context.Context, rec *recorder, u *user, step string, sched time.Time) (down bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return rn.runLocked(ctx, rec, u, step, sched)
}

// runLocked is runStep for a user whose mutex the caller holds.
func (rn *runner) runLocked(ctx context.Context, rec *recorder, u *user, step string, sched time.Time) (down bool) {
	if needsLogin(step) && u.access == "" {
		if o := rn.login(ctx, rec, u, time.Time{}); !o.ok() {
			return o.status == 0
		}
	}
	var o outcome
	switch step {
	case StepMe:
		o = rn.me(ctx, rec, u, sched)
	case StepLogin:
		o = rn.login(ctx, rec, u, sched)
	case StepRefresh:
		o = rn.refreshTokens(ctx, rec, u, sched)
	case StepPhone:
		o = rn.phone(ctx, rec, u, sched)
	case StepPush:
		o = rn.push(ctx, rec, u, sched)
	case StepGateway:
		o = rn.gateway(ctx, rec, u, sched)
	}
	return o.status == 0
}

func (rn *runner) apiURL(path string) string {
	return rn.cfg.Target + "/api/v1/" + rn.cfg.AppID + path
}

// login gets a wx.login code from the sandbox and exchanges it.
func (rn *runner) login(ctx context.Context, rec *recorder, u *user, sched time.Time) outcome {
	var code struct{ Code, OpenID string }
	body, _ := json.Marshal(map[string]string{"appid": rn.cfg.AppID, "user": u.name})
	if o := rn.call(ctx, rec, stepSandboxCode, http.MethodPost, rn.cfg.WeChat+"/sandbox/login", "", body, time.Time{}, &code); !o.ok() {
		return o
	}
	u.openid = code.OpenID
	var tokens struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	body, _ = json.Marshal(map[string]string{"code": code.Code})
	o := rn.call(ctx, rec, StepLogin, http.MethodPost, rn.apiURL("/login"), "", body, sched, &tokens)
	if o.ok() {
		u.access, u.refresh = tokens.AccessToken, tokens.RefreshToken
	}
	return o
}

func (rn *runner) me(ctx context.Context, rec *recorder, u *user, sched time.Time) outcome {
	o := rn.call(ctx, rec, StepMe, http.MethodGet, rn.apiURL("/me"), u.access, nil, sched, nil)
	if o.status == http.StatusUnauthorized {
		u.access = "" // expired or revoked: the next step logs in again
	}
	return o
}

func (rn *runner) refreshTokens(ctx context.Context, rec *recorder, u *user, sched time.Time) outcome {
	var tokens struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	body, _ := json.Marshal(map[string]string{"refresh_token": u.refresh})
	o := rn.call(ctx, rec, StepRefresh, http.MethodPost, rn.apiURL("/token/refresh"), "", body, sched, &tokens)
	switch {
	case o.ok():
		u.access, u.refresh = tokens.AccessToken, tokens.RefreshToken
	case o.status == http.StatusUnauthorized:
		u.access, u.refresh = "", ""
	}
	return o
}

// phone gets a phone-number code from the sandbox and exchanges it.
func (rn *runner) phone(ctx context.Context, rec *recorder, u *user, sched time.Time) outcome {
	number := fmt.Sprintf("138%08d", rn.phoneSeq.Add(1)%100000000)
	var code struct{ Code string }
	body, _ := json.Marshal(map[string]string{"appid": rn.cfg.AppID, "openid": u.openid, "phone_number": number})
	if o := rn.call(ctx, rec, stepSandboxPhoneCode, http.MethodPost, rn.cfg.WeChat+"/sandbox/phone-code", "", body, time.Time{}, &code); !o.ok() {
		return o
	}
	body, _ = json.Marshal(map[string]string{"code": code.Code})
	o := rn.call(ctx, rec, StepPhone, http.MethodPost, rn.apiURL("/me/phone"), u.access, body, sched, nil)
	if o.status == http.StatusUnauthorized {
		u.access = ""
	}
	return o
}

// push sends a text message from u, signed (and encrypted) exactly as
// WeChat would, with a MsgId no other push of this run has.
func (rn *runner) push(ctx context.Context, rec *recorder, u *user, sched time.Time) outcome {
	from := u.openid
	if from == "" {
		from = "o" + u.name
	}
	msg, _ := json.Marshal(map[string]any{
		"ToUserName": sandbox.OriginalID(rn.cfg.AppID), "FromUserName": from,
		"CreateTime": time.Now().Unix(), "MsgType": "text", "Content": "load test",
		"MsgId": rn.msgBase + rn.msgSeq.Add(1),
	})
	built, err := rn.pushes.BuildPush(sandbox.PushRequest{AppID: rn.cfg.AppID, Message: msg})
	if err != nil {
		o := outcome{code: "push not built: " + err.Error()}
		rec.record(StepPush, 0, o)
		return o
	}
	return rn.send(ctx, rec, StepPush, http.MethodPost, built.URL, "", built.ContentType, built.Body, sched, nil)
}

// gateway GETs the gateway path through the target with u's token, then,
// with GatewayDirect, the same request straight from the upstream.
func (rn *runner) gateway(ctx context.Context, rec *recorder, u *user, sched time.Time) outcome {
	path := strings.ReplaceAll(rn.cfg.GatewayPath, "{appid}", rn.cfg.AppID)
	o := rn.call(ctx, rec, StepGateway, http.MethodGet, rn.cfg.Target+path, u.access, nil, sched, nil)
	if o.status == http.StatusUnauthorized {
		u.access = ""
	}
	if rn.cfg.GatewayDirect != "" {
		rn.call(ctx, rec, StepGatewayDirect, http.MethodGet, rn.cfg.GatewayDirect, u.access, nil, time.Time{}, nil)
	}
	return o
}

// call sends a JSON request; see send.
func (rn *runner) call(ctx context.Context, rec *recorder, step, method, url, token string, body []byte, sched time.Time, out any) outcome {
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return rn.send(ctx, rec, step, method, url, token, ct, body, sched, out)
}

// send makes one request, records it under step and decodes a 2xx JSON
// answer into out. A request cut short because ctx ended (Ctrl-C) is not
// recorded: the server did nothing wrong.
func (rn *runner) send(ctx context.Context, rec *recorder, step, method, url, token, contentType string, body []byte, sched time.Time, out any) outcome {
	start := time.Now()
	if sched.IsZero() {
		sched = start
	}
	o := rn.roundTrip(ctx, method, url, token, contentType, body, out)
	if ctx.Err() != nil && o.status == 0 {
		return o
	}
	rec.record(step, time.Since(sched), o)
	return o
}

func (rn *runner) roundTrip(ctx context.Context, method, url, token, contentType string, body []byte, out any) outcome {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return outcome{code: "bad request: " + err.Error()}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := rn.hc.Do(req)
	if err != nil {
		return outcome{code: transportKind(err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return outcome{code: transportKind(err)}
	}
	o := outcome{status: resp.StatusCode}
	if !o.ok() {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil {
			o.code = e.Error.Code
		}
		return o
	}
	if out != nil && json.Unmarshal(raw, out) != nil {
		o.status, o.code = 0, "answer not JSON ("+strconv.Itoa(resp.StatusCode)+")"
	}
	return o
}
