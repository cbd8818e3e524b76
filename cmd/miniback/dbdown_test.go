package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miniback/miniback/internal/config"
)

// TestDatabaseWriteFailureIs503: with the SQLite file locked by another
// process, login and admin sends answer 503 unavailable (not 500 internal)
// and /readyz fails on the database, because it probes a write; once the
// lock is gone all of it works again (issue #6 item 4).
func TestDatabaseWriteFailureIs503(t *testing.T) {
	var path string
	e := startMain(t, func(c *config.Config) {
		withAdmin(c)
		path = filepath.Join(c.DataDir, "miniback.db")
		c.Database.URL = "sqlite://" + path + "?busy_timeout=100ms"
	})
	l := e.login("pia")
	// The locker waits for a write of Main's in flight instead of failing.
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	var bad errorAnswer
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/login", "", map[string]string{"code": e.code("pia")}, &bad); st != 503 || bad.Error.Code != "unavailable" {
		t.Fatalf("login on a locked database: %d %+v", st, bad)
	}
	send := map[string]any{"openid": l.User.OpenID, "msgtype": "text", "text": map[string]string{"content": "hi"}}
	if st, _ := e.do("POST", "/admin/v1/"+config.DemoAppID+"/messages/customer", adminKey, send, &bad); st != 503 || bad.Error.Code != "unavailable" {
		t.Fatalf("admin send on a locked database: %d %+v", st, bad)
	}
	var ready struct{ Checks map[string]string }
	if st, _ := e.do("GET", "/readyz", "", nil, &ready); st != 503 || ready.Checks["database"] == "ok" {
		t.Fatalf("readyz on a locked database: %d %+v", st, ready)
	}
	if strings.Contains(e.logs.String(), `"code":"internal"`) {
		t.Fatal("a write failure was logged as internal")
	}

	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.do("GET", "/readyz", "", nil, &ready); st != 200 {
		t.Fatalf("readyz after the lock: %d %+v", st, ready)
	}
	e.login("pia")
}
