package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
	go func() { io.Copy(s, c); s.Close() }()
	io.Copy(c, s)
	c.Close()
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

// TestDependencyFailures stops and restarts the database, Redis and NATS
// under a running instance: requests that need the missing one answer 503
// unavailable (never 500), /readyz names it, and the instance recovers by
// itself when it comes back.
func TestDependencyFailures(t *testing.T) {
	pgURL, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	db := startProxy(t, pgURL.Host)
	pgURL.Host = db.addr
	rs := redistest.StartServer(t)
	nq := startNATS(t)
	adminKey := "failures-admin-key-0123"
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
	push := func() int {
		var out struct{ Status int }
		msg := map[string]any{"ToUserName": "gh_1", "FromUserName": l.User.OpenID, "CreateTime": time.Now().Unix(),
			"MsgType": "text", "Content": "hi", "MsgId": time.Now().UnixNano()}
		e.do("POST", "/sandbox/push", "", map[string]any{"appid": config.DemoAppID, "message": msg}, &out)
		return out.Status
	}
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
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if st, _ := s.probe(); st != 200 {
				t.Fatalf("before the stop: %d", st)
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
			s.restart()
			waitUntil(t, 30*time.Second, fmt.Sprint(s.name, " back without a restart of miniback"), func() bool {
				st, _ := s.probe()
				return st == 200
			})
			if st, _ := e.do("GET", "/readyz", "", nil, nil); st != 200 {
				t.Fatalf("/readyz after %s came back: %d", s.name, st)
			}
		})
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
