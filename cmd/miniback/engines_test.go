package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/state/redis"
	"github.com/miniback/miniback/internal/state/redis/redistest"
	"github.com/miniback/miniback/internal/store/storetest"
)

// engines are the SQL engines reached through database.url besides SQLite;
// each test gets a fresh schema or database on the test server.
var engines = []struct {
	name string
	url  func(testing.TB) string
}{
	{"postgres", storetest.PostgresURL},
	{"mysql", storetest.MySQLURL},
}

// TestEnginesOverHTTP runs the login flow through HTTP on every engine:
// login, a second login of the same user, /me, refresh, reuse, logout.
func TestEnginesOverHTTP(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			u := eng.url(t)
			e := startMain(t, func(c *config.Config) { c.Database.URL = u })
			first := e.login("alice")
			second := e.login("alice")
			if !first.Created || second.Created || second.User.ID != first.User.ID {
				t.Fatalf("logins: %+v then %+v", first, second)
			}
			app := "/api/v1/" + config.DemoAppID
			if st, _ := e.do("GET", app+"/me", second.AccessToken, nil, nil); st != 200 {
				t.Fatalf("me: %d", st)
			}
			var next loginAnswer
			if st, _ := e.do("POST", app+"/token/refresh", "", map[string]string{"refresh_token": second.RefreshToken}, &next); st != 200 {
				t.Fatalf("refresh: %d", st)
			}
			if st, _ := e.do("POST", app+"/token/refresh", "", map[string]string{"refresh_token": second.RefreshToken}, nil); st != 401 {
				t.Fatalf("reuse: %d", st)
			}
			if st, _ := e.do("POST", app+"/logout", first.AccessToken, nil, nil); st != 204 {
				t.Fatalf("logout: %d", st)
			}
			if st, _ := e.do("GET", app+"/me", first.AccessToken, nil, nil); st != 401 {
				t.Fatalf("me after logout: %d", st)
			}
		})
	}
}

// TestMigrateCommandOnEngines runs `miniback migrate` twice on every
// engine: the first run applies every version, the second none.
func TestMigrateCommandOnEngines(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			env := []string{"MINIBACK_DATABASE_URL=" + eng.url(t), "MINIBACK_DATA_DIR=" + t.TempDir()}
			for i, wantNone := range []bool{false, true} {
				var out, errb bytes.Buffer
				if err := run(context.Background(), []string{"migrate"}, env, &out, &errb); err != nil {
					t.Fatalf("run %d: %v (%s)", i, err, errb.String())
				}
				if none := strings.Contains(out.String(), "migrations applied: 0 new"); none != wantNone {
					t.Fatalf("run %d: %q", i, out.String())
				}
			}
		})
	}
}

// TestRedisStateOverHTTP runs Main with redis.url: the WeChat access token
// a login needs is cached in Redis, under redis.prefix, with the appid as
// a hash tag.
func TestRedisStateOverHTTP(t *testing.T) {
	u := redistest.URL(t)
	prefix := "test:" + rand.Text()[:10] + ":"
	e := startMain(t, func(c *config.Config) { c.Redis.URL, c.Redis.Prefix = u, prefix })
	l := e.login("alice")
	if st, _ := e.do("GET", "/api/v1/"+config.DemoAppID+"/me", l.AccessToken, nil, nil); st != 200 {
		t.Fatalf("me: %d", st)
	}
	// A phone-number call needs the access token, which lands in Redis.
	var pc struct{ Code string }
	e.do("POST", "/sandbox/phone-code", "", map[string]string{"appid": config.DemoAppID, "openid": l.User.OpenID, "phone_number": "13800138000"}, &pc)
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/me/phone", l.AccessToken, map[string]string{"code": pc.Code}, nil); st != 200 {
		t.Fatalf("phone: %d", st)
	}
	s, ok := e.m.State.(*redis.Store)
	if !ok {
		t.Fatalf("state store is %T, want *redis.Store", e.m.State)
	}
	key := prefix + "wechat:{" + config.DemoAppID + "}:token:stable"
	n, err := s.Client().Exists(context.Background(), key).Result()
	if err != nil || n != 1 {
		t.Fatalf("EXISTS %s = %d, %v", key, n, err)
	}
	t.Cleanup(func() { s.Client().Del(context.Background(), key) })
}

// natsURL is the external NATS server of the tests.
func natsURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("MINIBACK_TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(u, "nats://"), time.Second)
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("REQUIRE_TEST_SERVERS") != "" {
			t.Fatalf("no NATS server at %s: %v", u, err)
		}
		t.Skipf("no NATS server at %s; bash .ci/services starts one", u)
	}
	c.Close()
	return u
}

// TestQueuePrefix runs Main on the external NATS server with queue.prefix:
// the stream is named after the prefix, and the default stream is left
// alone, so deployments can share one NATS.
func TestQueuePrefix(t *testing.T) {
	u := natsURL(t)
	prefix := "t" + strings.ToLower(rand.Text()[:10])
	e := startMain(t, func(c *config.Config) { c.Queue.URL, c.Queue.Prefix = u, prefix })
	nc, err := nats.Connect(u)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { js.DeleteStream(context.Background(), strings.ToUpper(prefix)) })
	s, err := js.Stream(t.Context(), strings.ToUpper(prefix))
	if err != nil {
		t.Fatalf("stream %s: %v", strings.ToUpper(prefix), err)
	}
	if subj := s.CachedInfo().Config.Subjects; len(subj) != 1 || subj[0] != prefix+".>" {
		t.Fatalf("subjects = %v, want %s.>", subj, prefix)
	}
	if got := e.m.Queue.Subject("inbox", "wx1"); got != prefix+".inbox.wx1" {
		t.Fatalf("subject = %s", got)
	}
}
