package load

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testAppID = "wx8d0e5a6b4c3f2a10"

func demoPush() (string, string, string) {
	return "token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "JSON"
}

func TestParseMix(t *testing.T) {
	cases := []struct {
		name, in, want, err string
	}{
		{"default", DefaultMix, "me=20,login=1,refresh=1,phone=1,push=2", ""},
		{"weight defaults to 1", "me, push=3", "me=1,push=3", ""},
		{"unknown step", "me=1,foo=2", "", `unknown step "foo"`},
		{"not yet built", "pay=1", "", `"pay" is not available`},
		{"zero weight", "me=0", "", "positive integer"},
		{"negative weight", "me=-2", "", "positive integer"},
		{"twice", "me=1,me=2", "", "named twice"},
		{"empty", " , ", "", "names no step"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseMix(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParseMix(%q) = %v, %v; want error with %q", c.in, m, err, c.err)
				}
				return
			}
			if err != nil || m.String() != c.want {
				t.Fatalf("ParseMix(%q) = %q, %v; want %q", c.in, m, err, c.want)
			}
		})
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	ok := Config{Target: "http://127.0.0.1:8080"}
	cases := []struct {
		name string
		mod  func(*Config)
		flag string
	}{
		{"remote target", func(c *Config) { c.Target = "http://10.1.2.3:8080" }, "target"},
		{"remote name", func(c *Config) { c.Target = "https://example.com" }, "target"},
		{"not a URL", func(c *Config) { c.Target = "127.0.0.1:8080" }, "target"},
		{"remote sandbox", func(c *Config) { c.WeChat = "http://192.168.1.1" }, "wechat"},
		{"negative rate", func(c *Config) { c.Rate = -5 }, "rate"},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }, "duration"},
		{"negative users", func(c *Config) { c.Users = -1 }, "users"},
		{"target rps without find-max", func(c *Config) { c.TargetRPS = 100 }, "target-rps"},
		{"push without token", func(c *Config) { c.AppID = "wxother" }, "token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.mod(&cfg)
			_, err := Run(context.Background(), cfg, testAppID, demoPush)
			var fe *FlagError
			if !errors.As(err, &fe) || fe.Flag != c.flag {
				t.Fatalf("err = %v; want a FlagError for --%s", err, c.flag)
			}
			if !strings.HasPrefix(err.Error(), "--"+c.flag+":") {
				t.Errorf("message %q does not start with the flag", err)
			}
		})
	}
	remote := ok
	remote.Target, remote.AllowRemote = "http://10.1.2.3:8080", true
	if err := remote.withDefaults(testAppID, demoPush).Validate(); err != nil {
		t.Errorf("--allow-remote: %v", err)
	}
	for _, host := range []string{"http://localhost:1", "http://[::1]:1", "http://127.0.0.2:1"} {
		c := Config{Target: host}.withDefaults(testAppID, demoPush)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
}

func TestInstances(t *testing.T) {
	cases := []struct {
		target, capacity float64
		want             int
	}{
		{1000, 400, 3}, // exactly 3.0: no fourth instance for float noise
		{1000, 1200, 1},
		{20000, 1922, 13},
		{10, 0, 0},
	}
	for _, c := range cases {
		if got := Instances(c.target, c.capacity); got != c.want {
			t.Errorf("Instances(%v, %v) = %d; want %d", c.target, c.capacity, got, c.want)
		}
	}
}

// TestTargetDown runs against a port nobody listens on: every request is
// counted as "connection refused", the run ends on time, and progress is
// reported while it runs.
func TestTargetDown(t *testing.T) {
	addr := refusingAddr(t)
	var progress atomic.Int32
	cfg := Config{Target: "http://" + addr, Duration: 2500 * time.Millisecond, Users: 3,
		Progress: func(Progress) { progress.Add(1) }}
	start := time.Now()
	rep, err := Run(context.Background(), cfg, testAppID, demoPush)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 8*time.Second {
		t.Errorf("run took %v", time.Since(start))
	}
	if rep.Succeeded() || rep.Requests == 0 || rep.Errors != rep.Requests {
		t.Fatalf("requests %d errors %d; want all failed", rep.Requests, rep.Errors)
	}
	for _, s := range rep.Steps {
		if s.Errors["connection refused"] != s.Count || s.Statuses["0"] != s.Count {
			t.Errorf("step %s: errors %v statuses %v", s.Step, s.Errors, s.Statuses)
		}
	}
	if progress.Load() == 0 {
		t.Error("no progress reported")
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "no request succeeded") {
		t.Errorf("text report: %v\n%s", err, text.String())
	}
}

// TestErrorsByCode runs the open model against a server that refuses
// everything with SPEC's error JSON: the report counts them by status and
// code.
func TestErrorsByCode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":"unavailable","message":"down for the test"}}`))
	}))
	defer srv.Close()
	mix, _ := ParseMix("me=1")
	cfg := Config{Target: srv.URL, Duration: time.Second, Rate: 200, Users: 5, Mix: mix}
	rep, err := Run(context.Background(), cfg, testAppID, demoPush)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Model != "open" || rep.Requests < 50 {
		t.Fatalf("model %s, %d requests", rep.Model, rep.Requests)
	}
	code := stepByName(rep, stepSandboxCode)
	if code == nil || code.Errors["503 unavailable"] != code.Count || code.Statuses["503"] != code.Count {
		t.Fatalf("sandbox_code row: %+v", code)
	}
}

// TestFindMax checks that a stage breaking the SLO ends the ramp with no
// capacity, and that stages that hold raise the rate and give the sizing.
func TestFindMax(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sandbox/login" {
			w.Write([]byte(`{"code":"c","openid":"o"}`))
			return
		}
		if r.URL.Path == "/api/v1/"+testAppID+"/login" {
			w.Write([]byte(`{"access_token":"a","refresh_token":"r"}`))
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	mix, _ := ParseMix("me=1")
	cfg := Config{Target: srv.URL, Duration: 300 * time.Millisecond, Rate: 1000, Users: 4, Mix: mix,
		FindMax: true, SLOP99: time.Nanosecond, TargetRPS: 5000}
	rep, err := Run(context.Background(), cfg, testAppID, demoPush)
	if err != nil {
		t.Fatal(err)
	}
	fm := rep.FindMax
	if fm == nil || len(fm.Stages) != 1 || fm.Stages[0].Held || fm.Capacity != 0 || fm.Instances != 0 {
		t.Fatalf("an SLO of 1 ns cannot hold: %+v", fm)
	}
	cfg.SLOP99 = 10 * time.Second
	cfg.Rate = 50
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rep, err = Run(ctx, cfg, testAppID, demoPush)
	if err != nil {
		t.Fatal(err)
	}
	fm = rep.FindMax
	if len(fm.Stages) < 2 || !fm.Stages[0].Held || fm.Capacity <= 0 || fm.Instances != Instances(5000, fm.Capacity) {
		t.Fatalf("find-max: %+v", fm)
	}
	if rep.RPS < fm.Stages[0].Rate*0.9 {
		t.Errorf("the report is not of a stage that held: %v/s", rep.RPS)
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	rec := newRecorder(time.Now())
	for i := range 500 {
		rec.record(StepMe, time.Duration(i)*50*time.Microsecond, outcome{status: 200})
		if i%3 == 0 {
			rec.tick(time.Now())
		}
	}
	rec.record(StepLogin, time.Millisecond, outcome{status: 401, code: "unauthorized"})
	rn := &runner{cfg: Config{Target: "http://127.0.0.1:1", AppID: testAppID, Users: 1, Mix: Mix{StepMe: 1}}}
	rep := rn.report(rec, 0, time.Second)
	var b strings.Builder
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<svg", "<polyline", `class="bar"`, "401 unauthorized"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "<link", "src=", "href=", "@import", "url("} {
		if strings.Contains(page, banned) {
			t.Errorf("page loads something: %q", banned)
		}
	}
	me := stepByName(rep, StepMe)
	var sum int64
	for _, k := range me.Histogram {
		sum += k.Count
	}
	if sum != me.Count || me.Count != 500 {
		t.Errorf("histogram holds %d of %d", sum, me.Count)
	}
	if me.P50ms < 12 || me.P50ms > 13 || me.Maxms < 24.9 || me.Maxms > 25 {
		t.Errorf("p50 %v max %v; want about 12.5 and 24.95", me.P50ms, me.Maxms)
	}
}

func stepByName(r *Report, name string) *StepReport {
	for i := range r.Steps {
		if r.Steps[i].Step == name {
			return &r.Steps[i]
		}
	}
	return nil
}
