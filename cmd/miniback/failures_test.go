package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/state/redis/redistest"
	"github.com/miniback/miniback/internal/store/storetest"
)

// tcpProxy forwards a loopback port to a server; stopping it cuts every
// connection and refuses new ones, as if the server had gone away, and
// starting it again brings the server back on the same address. It stands
// in for stopping a database server that other tests share.
type tcpProxy struct {
	addr, target string
	delay        atomic.Int64 // nanoseconds each chunk from the client waits
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{addr: freeAddr(t), target: target, conns: map[net.Conn]struct{}{}}
	p.start(t)
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) start(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { p.forward(s, c); s.Close() }()
	io.Copy(c, s)
	c.Close()
}

// forward copies the client's bytes to the server, each chunk after the
// proxy's delay: a slower database keeps more requests in the middle of a
// transaction when it is cut.
func (p *tcpProxy) forward(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			time.Sleep(time.Duration(p.delay.Load()))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// natsProcess is a nats-server with JetStream on a free port and its own
// storage, which survives a restart.
type natsProcess struct {
	addr, dir string
	cmd       *exec.Cmd
}

func startNATS(t *testing.T) *natsProcess {
	requireBinary(t, "nats-server")
	n := &natsProcess{addr: freeAddr(t), dir: t.TempDir()}
	n.start(t)
	t.Cleanup(n.kill)
	return n
}

func (n *natsProcess) start(t *testing.T) {
	_, port, _ := net.SplitHostPort(n.addr)
	n.cmd = exec.Command("nats-server", "-a", "127.0.0.1", "-p", port, "-js", "-sd", n.dir)
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "nats-server", func() bool {
		c, err := net.Dial("tcp", n.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (n *natsProcess) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(syscall.SIGKILL)
		n.cmd.Wait()
	}
	n.cmd = nil
}

const failuresAdminKey = "failures-admin-key-0123"

// TestDependencyFailures stops and restarts the database, Redis and NATS
// under a running instance: requests that need the missing one answer 503
// unavailable (never 500), /readyz names it, and the instance recovers by
// itself when it comes back. Nothing is half-written meanwhile: logins of
// new users run across each cut and each one left all of its rows or none;
// and no accepted push is lost: pushes sent during each outage and
// accepted are stored and handled once, and those refused are retried, as
// WeChat does, until accepted.
func TestDependencyFailures(t *testing.T) {
	pgDirect := storetest.PostgresURL(t)
	pgURL, err := url.Parse(pgDirect)
	if err != nil {
		t.Fatal(err)
	}
	db := startProxy(t, pgURL.Host)
	pgURL.Host = db.addr
	rs := redistest.StartServer(t)
	nq := startNATS(t)
	adminKey := failuresAdminKey
	e := startMain(t, func(c *config.Config) {
		c.Database.URL = pgURL.String()
		c.Redis.URL = "redis://" + rs.Addr + "/0"
		c.Queue.URL = "nats://" + nq.addr
		c.Admin.APIKeys = []string{adminKey}
	})
	app := "/api/v1/" + config.DemoAppID
	l := e.login("steady")
	msgCheck := func() (int, errorAnswer) {
		var out errorAnswer
		st, _ := e.do("POST", "/admin/v1/"+config.DemoAppID+"/security/msg-check", adminKey,
			map[string]any{"openid": l.User.OpenID, "content": "hi", "scene": 2}, &out)
		return st, out
	}
	loginStatus := func() (int, errorAnswer) {
		var out errorAnswer
		st, _ := e.do("POST", app+"/login", "", map[string]string{"code": e.code("steady")}, &out)
		return st, out
	}
	pushes := &pushLedger{e: e, openid: l.User.OpenID}
	push := func() int { return pushes.send(pushes.next()) }
	logins := &loginLoad{base: e.base}
	steps := []struct {
		name    string
		check   string // the /readyz check that must fail
		stop    func()
		restart func()
		probe   func() (int, errorAnswer)
	}{
		{"database", "database", db.stop, func() { db.start(t) }, loginStatus},
		{"redis", "state", rs.Kill, func() { rs.Restart(t) }, msgCheck},
		{"nats", "queue", nq.kill, func() { nq.start(t) }, func() (int, errorAnswer) { return push(), errorAnswer{} }},
	}
	dbOutage503 := 0 // logins answered 503 by the end of the database step (the first)
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if st, _ := s.probe(); st != 200 {
				t.Fatalf("before the stop: %d", st)
			}
			// Logins of new users run across every cut, so that some are
			// in flight when the dependency goes away.
			stopLoad := logins.run()
			defer stopLoad()
			if s.name == "database" {
				db.delay.Store(int64(3 * time.Millisecond))
				defer db.delay.Store(0)
				waitUntil(t, 15*time.Second, "logins before the cut", func() bool { return logins.count(200) >= 4 })
			}
			s.stop()
			waitUntil(t, 15*time.Second, "a 503 while "+s.name+" is down", func() bool {
				st, out := s.probe()
				if st == 500 {
					t.Fatalf("500 while %s is down: %+v\n%s", s.name, out, lastFailure(e.logs.String()))
				}
				return st == 503 && (out.Error.Code == "unavailable" || s.name == "nats")
			})
			var ready struct{ Checks map[string]string }
			if st, _ := e.do("GET", "/readyz", "", nil, &ready); st != 503 || ready.Checks[s.check] == "ok" {
				t.Fatalf("/readyz while %s is down: %d %v", s.name, st, ready.Checks)
			}
			for k, v := range ready.Checks {
				if k != s.check && v != "ok" {
					t.Errorf("/readyz names %s (%s) too", k, v)
				}
			}
			stopLoad()
			if s.name == "database" {
				dbOutage503 = logins.count(503)
			}
			// Pushes while it is down: each answered success must survive,
			// each answered otherwise is retried below, as WeChat would.
			var sends sync.WaitGroup
			for range 3 {
				sends.Add(1)
				go func() { defer sends.Done(); pushes.send(pushes.next()) }()
			}
			sends.Wait()
			s.restart()
			waitUntil(t, 30*time.Second, fmt.Sprint(s.name, " back without a restart of miniback"), func() bool {
				st, _ := s.probe()
				return st == 200
			})
			if st, _ := e.do("GET", "/readyz", "", nil, nil); st != 200 {
				t.Fatalf("/readyz after %s came back: %d", s.name, st)
			}
			pushes.retryRefused(t)
		})
	}
	if dbOutage503 == 0 {
		t.Errorf("no login was answered 503 during the database outage: %v", logins.answers())
	}
	if n := logins.count(500); n != 0 {
		t.Errorf("%d logins answered 500 during the outages", n)
	}
	t.Logf("logins across the cuts: %d answered 200, %d answered 503 (%d during the database's)", logins.count(200), logins.count(503), dbOutage503)
	checkLoginsWhole(t, pgDirect, logins)
	pushes.checkStoredOnce(t)
}

// loginLoad runs logins of new users in the background and keeps their
// answers.
type loginLoad struct {
	base   string
	mu     sync.Mutex
	status map[string]int // openid → answer of its only login
	n      int
}

// run starts four loops of logins of new users, and returns the function
// that stops them and waits for them (once; later calls do nothing).
func (l *loginLoad) run() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				l.loginOnce()
			}
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// loginOnce logs a new user in through HTTP (not the test's helpers, which
// may not fail the test from this goroutine) and keeps the answer.
func (l *loginLoad) loginOnce() {
	l.mu.Lock()
	l.n++
	user := fmt.Sprint("cut-", l.n)
	l.mu.Unlock()
	var code struct{ Code, OpenID string }
	if postLoadJSON(l.base+"/sandbox/login", map[string]string{"appid": config.DemoAppID, "user": user}, &code) != 200 {
		return
	}
	var out loginAnswer
	st := postLoadJSON(l.base+"/api/v1/"+config.DemoAppID+"/login", map[string]string{"code": code.Code}, &out)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.status == nil {
		l.status = map[string]int{}
	}
	l.status[user] = st
}

func (l *loginLoad) count(status int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, st := range l.status {
		if st == status {
			n++
		}
	}
	return n
}

func (l *loginLoad) answers() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.status)
}

// postLoadJSON posts body as JSON and decodes the answer into out; it returns
// the status, or 0 when the request failed.
func postLoadJSON(url string, body, out any) int {
	raw, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

// checkLoginsWhole looks straight into the test's PostgreSQL schema: a
// login is the user, its session and the session's refresh token, written
// together or not at all, so after the outage no user is without a session
// (only logins create users) and no session without its refresh token; and
// every login answered 200 left its user.
func checkLoginsWhole(t *testing.T, dsn string, logins *loginLoad) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for what, q := range map[string]string{
		"users without a session":          `SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id)`,
		"sessions without a refresh token": `SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id)`,
	} {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("half-written logins: %d %s", n, what)
		}
	}
	var users int
	if err := db.QueryRow(`SELECT count(*) FROM users`).Scan(&users); err != nil {
		t.Fatal(err)
	}
	// "steady" and every login answered 200; a 503 may have committed
	// before its answer was lost, so it may add a whole login too.
	if ok := logins.count(200) + 1; users < ok {
		t.Errorf("%d users in the database, but %d logins were answered 200", users, ok)
	}
}

// pushLedger sends text pushes through the sandbox and remembers each
// MsgId and whether miniback accepted it ("success").
type pushLedger struct {
	e        *testEnv
	openid   string
	mu       sync.Mutex
	n        int64
	accepted map[int64]bool
}

func (p *pushLedger) next() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	return 8100000000000000000 + p.n
}

// send delivers the push with msgID and returns the status miniback
// answered (0 when it could not be reached). It may run in any goroutine.
func (p *pushLedger) send(msgID int64) int {
	var out struct {
		Status int
		Body   string
	}
	msg := map[string]any{"ToUserName": "gh_1", "FromUserName": p.openid, "CreateTime": time.Now().Unix(),
		"MsgType": "text", "Content": fmt.Sprint("push ", msgID), "MsgId": msgID}
	postLoadJSON(p.e.base+"/sandbox/push", map[string]any{"appid": config.DemoAppID, "message": msg}, &out)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.accepted == nil {
		p.accepted = map[int64]bool{}
	}
	ok := out.Status == 200 && out.Body == "success"
	p.accepted[msgID] = p.accepted[msgID] || ok
	if out.Status == 500 {
		p.e.t.Errorf("push %d answered 500", msgID)
	}
	return out.Status
}

// retryRefused sends every push not yet accepted again, as WeChat retries,
// until miniback accepts it.
func (p *pushLedger) retryRefused(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	var refused []int64
	for id, ok := range p.accepted {
		if !ok {
			refused = append(refused, id)
		}
	}
	p.mu.Unlock()
	for _, id := range refused {
		waitUntil(t, 15*time.Second, fmt.Sprint("push ", id, " accepted on retry"), func() bool {
			p.send(id)
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.accepted[id]
		})
	}
}

// checkStoredOnce waits until every accepted push is in the admin inbox,
// handled, exactly once; pushes never accepted must not be there either
// (retryRefused has retried them all).
func (p *pushLedger) checkStoredOnce(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	want := maps.Clone(p.accepted)
	p.mu.Unlock()
	var seen map[int64][]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen = p.inbox(t)
		done := true
		for id, ok := range want {
			st := seen[id]
			done = done && ok && len(st) == 1 && st[0] == "handled"
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			for id, ok := range want {
				if st := seen[id]; !ok || len(st) != 1 || st[0] != "handled" {
					t.Errorf("push %d (accepted %v): inbox rows %v, want one handled", id, ok, st)
				}
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(want) < 9 {
		t.Errorf("only %d pushes were sent", len(want))
	}
}

// inbox pages through the admin inbox and returns the statuses of the rows
// of each MsgId.
func (p *pushLedger) inbox(t *testing.T) map[int64][]string {
	seen := map[int64][]string{}
	cursor := ""
	for {
		var page struct {
			Messages []struct {
				Status  string          `json:"status"`
				Message json.RawMessage `json:"message"`
			} `json:"messages"`
			NextCursor string `json:"next_cursor"`
		}
		if st, _ := p.e.do("GET", "/admin/v1/"+config.DemoAppID+"/inbox?limit=100&cursor="+cursor, failuresAdminKey, nil, &page); st != 200 {
			t.Fatalf("admin inbox: %d", st)
		}
		for _, m := range page.Messages {
			var msg struct{ MsgId int64 }
			if err := json.Unmarshal(m.Message, &msg); err != nil {
				t.Fatalf("inbox message %s: %v", m.Message, err)
			}
			seen[msg.MsgId] = append(seen[msg.MsgId], m.Status)
		}
		if page.NextCursor == "" {
			return seen
		}
		cursor = page.NextCursor
	}
}

// lastFailure is the last "request failed" line of logs.
func lastFailure(logs string) string {
	last := ""
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"request failed"`) {
			last = line
		}
	}
	return last
}

// TestDatabaseFailureMySQL is the database step of TestDependencyFailures
// on MySQL, whose driver fails in its own ways.
func TestDatabaseFailureMySQL(t *testing.T) {
	u, err := url.Parse(storetest.MySQLURL(t))
	if err != nil {
		t.Fatal(err)
	}
	db := startProxy(t, u.Host)
	u.Host = db.addr
	e := startMain(t, func(c *config.Config) { c.Database.URL = u.String() })
	login := func() (int, errorAnswer) {
		var out errorAnswer
		st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/login", "", map[string]string{"code": e.code("m")}, &out)
		return st, out
	}
	if st, _ := login(); st != 200 {
		t.Fatalf("before the stop: %d", st)
	}
	db.stop()
	waitUntil(t, 15*time.Second, "a 503 while MySQL is down", func() bool {
		st, out := login()
		if st == 500 {
			t.Fatalf("500 while MySQL is down: %+v\n%s", out, lastFailure(e.logs.String()))
		}
		return st == 503 && out.Error.Code == "unavailable"
	})
	var ready struct{ Checks map[string]string }
	if st, _ := e.do("GET", "/readyz", "", nil, &ready); st != 503 || ready.Checks["database"] == "ok" {
		t.Fatalf("/readyz while MySQL is down: %d %v", st, ready.Checks)
	}
	db.start(t)
	waitUntil(t, 30*time.Second, "MySQL back without a restart", func() bool { st, _ := login(); return st == 200 })
}
