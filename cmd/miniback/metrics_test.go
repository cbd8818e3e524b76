package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/sandbox"
)

// scrape reads base's /metrics and parses it.
func scrape(t *testing.T, base string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams, string(raw)
}

// value returns the counter, gauge or histogram count of the series of
// family name whose labels include want (name=value pairs), summed.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	var sum float64
	for _, m := range f.Metric {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range m.Label {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// contractFamilies are SPEC §8.1's metrics, their types and labels.
var contractFamilies = map[string]struct {
	typ    dto.MetricType
	labels []string
}{
	"miniback_http_requests_total":             {dto.MetricType_COUNTER, []string{"route", "status"}},
	"miniback_http_request_duration_seconds":   {dto.MetricType_HISTOGRAM, []string{"route"}},
	"miniback_wechat_requests_total":           {dto.MetricType_COUNTER, []string{"path", "errcode"}},
	"miniback_wechat_request_duration_seconds": {dto.MetricType_HISTOGRAM, []string{"path"}},
	"miniback_wechat_token_fetches_total":      {dto.MetricType_COUNTER, []string{"appid", "mode", "reason"}},
	"miniback_logins_total":                    {dto.MetricType_COUNTER, []string{"appid", "result"}},
	"miniback_push_received_total":             {dto.MetricType_COUNTER, []string{"appid", "result"}},
	"miniback_push_handled_total":              {dto.MetricType_COUNTER, []string{"handler", "result"}},
	"miniback_push_handling_lag_seconds":       {dto.MetricType_HISTOGRAM, nil},
	"miniback_outbox_messages_total":           {dto.MetricType_COUNTER, []string{"kind", "status"}},
	"miniback_outbox_attempts_total":           {dto.MetricType_COUNTER, []string{"kind", "errcode"}},
	"miniback_queue_pending_messages":          {dto.MetricType_GAUGE, []string{"consumer"}},
	"miniback_db_connections":                  {dto.MetricType_GAUGE, []string{"state"}},
	"miniback_db_wait_count_total":             {dto.MetricType_COUNTER, nil},
	"miniback_db_wait_seconds_total":           {dto.MetricType_COUNTER, nil},
	"miniback_build_info":                      {dto.MetricType_GAUGE, []string{"version", "commit", "go_version"}},
	"miniback_circuit_state":                   {dto.MetricType_GAUGE, []string{"target"}},
	"miniback_rate_limited_total":              {dto.MetricType_COUNTER, []string{"limit"}},
}

// TestMetricsAfterHostileFlows runs logins, WeChat faults, a token
// refetch, an abandoned request, outbound sends and hostile input, then
// checks that /metrics counts what happened, with the contract's types and
// labels, and exposes no secret, openid, phone number or unbounded label.
func TestMetricsAfterHostileFlows(t *testing.T) {
	const phone = "13912345678"
	hostile := "wx<evil7f3a>" + phone
	e := startMain(t, func(c *config.Config) {
		withAdmin(c)
		c.WeChat.Timeout = 300 * time.Millisecond
		c.Limits.LoginPerIP = config.Rate{N: 1000, Per: time.Minute}
	})
	demo := config.DemoAppID
	login := "/api/v1/" + demo + "/login"

	// Logins: created, existing, invalid code; refused input is not a login.
	alice := e.login("alice")
	e.login("alice")
	code := e.code("bob")
	e.do("POST", login, "", map[string]string{"code": code}, nil)
	e.do("POST", login, "", map[string]string{"code": code}, nil) // used: 40163
	e.do("POST", login, "", map[string]string{"code": "bad code " + phone}, nil)
	e.do("POST", "/api/v1/"+hostile+"/login", "", map[string]string{"code": "x"}, nil)
	e.do("GET", "/api/v1/"+demo+"/me/"+alice.User.OpenID+"?phone="+phone, alice.AccessToken, nil, nil)

	// WeChat faults on code2session: each is one login error.
	for _, f := range []map[string]any{
		{"errcode": 40226}, {"http_status": 502}, {"delay_ms": 2000}, {"errcode": 98765},
	} {
		f["path"] = "/sns/jscode2session"
		e.do("POST", "/sandbox/faults", "", f, nil)
		e.do("POST", login, "", map[string]string{"code": e.code("carl")}, nil)
	}

	// A token rejected once: refetched with reason "invalid".
	var pc struct{ Code string }
	e.do("POST", "/sandbox/phone-code", "", map[string]string{"appid": demo, "openid": alice.User.OpenID, "phone_number": phone}, &pc)
	e.do("POST", "/sandbox/faults", "", map[string]any{"path": "/wxa/business/getuserphonenumber", "errcode": 40001}, nil)
	if st, _ := e.do("POST", "/api/v1/"+demo+"/me/phone", alice.AccessToken, map[string]string{"code": pc.Code}, nil); st != 200 {
		t.Fatalf("phone: %d", st)
	}

	// A client that gives up: counted as 499.
	e.do("POST", "/sandbox/faults", "", map[string]any{"path": "/sns/jscode2session", "delay_ms": 250}, nil)
	abandon(t, e.base+login, `{"code":"`+e.code("dora")+`"}`)

	// Outbound sends: one retried then sent, one refused by the user.
	e.do("POST", "/sandbox/faults", "", map[string]any{"path": "/cgi-bin/message/subscribe/send", "errcode": -1}, nil)
	var sent, refused messageAnswer
	e.do("POST", "/admin/v1/"+demo+"/messages/subscribe", adminKey, subscribeBody(alice.User.OpenID), &sent)
	bob := e.login("bob")
	e.do("POST", "/sandbox/subscriptions", "", map[string]any{"appid": demo, "openid": bob.User.OpenID, "template_id": sandbox.DefaultTemplateID, "status": "reject"}, nil)
	e.do("POST", "/admin/v1/"+demo+"/messages/subscribe", adminKey, subscribeBody(bob.User.OpenID), &refused)
	e.waitMessage(sent.ID)
	e.waitMessage(refused.ID)

	// Pushes: stored, repeated by WeChat, stale, forged, garbled.
	msg := mustJSON(t, map[string]any{"ToUserName": "gh_1", "FromUserName": alice.User.OpenID, "CreateTime": time.Now().Unix(),
		"MsgType": "text", "Content": "call me " + phone, "MsgId": 8000000000000000001})
	built, err := e.m.Sandbox.BuildPush(sandbox.PushRequest{AppID: demo, Message: msg, Mode: sandbox.ModeSafe})
	if err != nil {
		t.Fatal(err)
	}
	sendPush(t, e.client, built, built.Body, 200)
	sendPush(t, e.client, built, built.Body, 200)
	stale, _ := e.m.Sandbox.BuildPush(sandbox.PushRequest{AppID: demo, Message: msg, Mode: sandbox.ModeSafe, Timestamp: time.Now().Add(-time.Hour).Unix()})
	sendPush(t, e.client, stale, stale.Body, 403)
	sendPush(t, e.client, built, []byte(`{"Encrypt":"forged"}`), 403)
	plain, _ := e.m.Sandbox.BuildPush(sandbox.PushRequest{AppID: demo, Message: msg, Mode: sandbox.ModePlain})
	sendPush(t, e.client, plain, []byte(`{"MsgType":`), 400)
	e.do("POST", "/wx/portal/"+hostile, "", `{}`, nil)
	e.waitInbox(demo, 1)

	var fams map[string]*dto.MetricFamily
	var text string
	loginRoute := "POST /api/v1/{appid}/login"
	for range 100 { // the abandoned request finishes on the server after the client left
		if fams, text = scrape(t, e.base); value(fams, "miniback_http_requests_total", "route", loginRoute, "status", "499") == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	for name, want := range contractFamilies {
		f, ok := fams[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if f.GetType() != want.typ {
			t.Errorf("%s is a %s, want %s", name, f.GetType(), want.typ)
		}
		for _, m := range f.Metric {
			var names []string
			for _, l := range m.Label {
				names = append(names, l.GetName())
			}
			if strings.Join(names, ",") != strings.Join(sortedCopy(want.labels), ",") {
				t.Errorf("%s has labels %v, want %v", name, names, want.labels)
				break
			}
		}
	}

	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"miniback_logins_total", []string{"appid", demo, "result", "created"}, 2}, // alice, bob
		{"miniback_logins_total", []string{"appid", demo, "result", "existing"}, 2},
		{"miniback_logins_total", []string{"appid", demo, "result", "invalid_code"}, 1},
		{"miniback_logins_total", []string{"appid", demo, "result", "error"}, 4}, // the four faults; not the abandoned one
		{"miniback_logins_total", []string{"appid", "other"}, 0},
		{"miniback_wechat_requests_total", []string{"path", "/sns/jscode2session", "errcode", "40226"}, 1},
		{"miniback_wechat_requests_total", []string{"path", "/sns/jscode2session", "errcode", "40163"}, 1},
		{"miniback_wechat_requests_total", []string{"path", "/sns/jscode2session", "errcode", "http_5xx"}, 1},
		{"miniback_wechat_requests_total", []string{"path", "/sns/jscode2session", "errcode", "timeout"}, 1},
		{"miniback_wechat_requests_total", []string{"path", "/sns/jscode2session", "errcode", "other"}, 1},
		{"miniback_wechat_requests_total", []string{"path", "/sns/jscode2session", "errcode", "canceled"}, 1},
		{"miniback_wechat_requests_total", []string{"path", "/wxa/business/getuserphonenumber", "errcode", "40001"}, 1},
		{"miniback_wechat_requests_total", []string{"path", "/wxa/business/getuserphonenumber", "errcode", "0"}, 1},
		{"miniback_wechat_token_fetches_total", []string{"appid", demo, "mode", "stable", "reason", "cold"}, 1},
		{"miniback_wechat_token_fetches_total", []string{"appid", demo, "mode", "stable", "reason", "invalid"}, 1},
		{"miniback_http_requests_total", []string{"route", loginRoute, "status", "200"}, 4},
		{"miniback_http_requests_total", []string{"route", loginRoute, "status", "499"}, 1},
		{"miniback_outbox_messages_total", []string{"kind", "subscribe", "status", "queued"}, 2},
		{"miniback_outbox_messages_total", []string{"kind", "subscribe", "status", "sent"}, 1},
		{"miniback_outbox_messages_total", []string{"kind", "subscribe", "status", "failed"}, 1},
		{"miniback_outbox_attempts_total", []string{"kind", "subscribe", "errcode", "-1"}, 1},
		{"miniback_outbox_attempts_total", []string{"kind", "subscribe", "errcode", "0"}, 1},
		{"miniback_outbox_attempts_total", []string{"kind", "subscribe", "errcode", "43101"}, 1},
		{"miniback_build_info", []string{"version", "dev"}, 1},
		{"miniback_push_received_total", []string{"appid", demo, "result", "stored"}, 1},
		{"miniback_push_received_total", []string{"appid", demo, "result", "duplicate"}, 1},
		{"miniback_push_received_total", []string{"appid", demo, "result", "refused_stale"}, 1},
		{"miniback_push_received_total", []string{"appid", demo, "result", "refused_signature"}, 1},
		{"miniback_push_received_total", []string{"appid", demo, "result", "refused_body"}, 1},
		{"miniback_push_received_total", []string{"appid", demo, "result", "unavailable"}, 0},
		{"miniback_push_handled_total", []string{"handler", "log", "result", "ok"}, 1},
		{"miniback_push_handling_lag_seconds", nil, 1},
	}
	for _, c := range checks {
		if got := value(fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if value(fams, "miniback_queue_pending_messages", "consumer", "outbox") < 0 {
		t.Error("no pending count for the outbox consumer")
	}

	// Nothing a caller sent, and nothing secret, appears in /metrics.
	secrets := []string{phone, "evil7f3a", alice.User.OpenID, bob.User.OpenID, alice.AccessToken, alice.RefreshToken,
		adminKey, config.DemoApp().Secret, config.DemoApp().AESKey, config.DemoApp().Token}
	secrets = append(secrets, e.keys...)
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			i := strings.Index(text, s)
			t.Errorf("/metrics contains %q: %s", s, text[max(0, i-100):i+20])
		}
	}
	assertBoundedLabels(t, fams)
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// labelValue is what a bounded label value looks like: a route pattern, a
// WeChat path, a breaker's host:port, an appid, a word or a number.
var labelValue = regexp.MustCompile(`^[A-Za-z0-9_./{} +:-]{0,64}$`)

// assertBoundedLabels checks every label of miniback's own metrics.
func assertBoundedLabels(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	for name, f := range fams {
		if !strings.HasPrefix(name, "miniback_") {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				v := l.GetValue()
				if !labelValue.MatchString(v) {
					t.Errorf("%s{%s=%q}: not a bounded label value", name, l.GetName(), v)
				}
				if l.GetName() == "appid" && v != config.DemoAppID && v != "other" {
					t.Errorf("%s{appid=%q}: not a configured app", name, v)
				}
			}
		}
	}
}

// sendPush posts a push built by the sandbox, with body in place of its
// own, and checks the status.
func sendPush(t *testing.T, c *http.Client, p *sandbox.BuiltPush, body []byte, want int) {
	t.Helper()
	req, _ := http.NewRequest("POST", p.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", p.ContentType)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("push: %d, want %d", resp.StatusCode, want)
	}
}

// abandon sends a request and gives up on it before the answer comes.
func abandon(t *testing.T, url, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request was answered before the client gave up")
	}
}

// TestMetricsListen moves /metrics to its own listener: the main listener
// no longer serves it.
func TestMetricsListen(t *testing.T) {
	e := startMain(t, func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" })
	if st, _ := e.do("GET", "/metrics", "", nil, nil); st != 404 {
		t.Fatalf("main listener /metrics: %d, want 404", st)
	}
	fams, _ := scrape(t, "http://"+e.m.MetricsAddr())
	if _, ok := fams["miniback_build_info"]; !ok {
		t.Fatal("metrics listener has no miniback_build_info")
	}
}
