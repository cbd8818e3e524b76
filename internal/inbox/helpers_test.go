package inbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/api"
	"github.com/miniback/miniback/internal/inbox"
	"github.com/miniback/miniback/internal/store/sqlite"
	"github.com/miniback/miniback/push"
	"github.com/miniback/miniback/wxcrypto"
)

const (
	testToken  = "push-test-token"
	testAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// testNow is the fixed server clock of the portal tests.
var testNow = time.Unix(1762329554, 0)

// mustInbox opens a real SQLite inbox in a temporary directory.
func mustInbox(tb testing.TB) *sqlite.InboxStore {
	tb.Helper()
	db := sqlite.NewDB(filepath.Join(tb.TempDir(), "push.db"))
	ctx := context.Background()
	if err := db.Open(ctx); err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return sqlite.NewInboxStore(db)
}

// published is one recorded Publish call.
type published struct{ subject, data, msgID string }

// recorder is a Publisher that records its calls and can be made to fail.
type recorder struct {
	mu   sync.Mutex
	msgs []published
	err  error
}

func (r *recorder) Subject(kind, appid string) string { return "miniback." + kind + "." + appid }

func (r *recorder) Publish(_ context.Context, subject string, data []byte, msgID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, published{subject, string(data), msgID})
	return nil
}

func (r *recorder) all() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]published(nil), r.msgs...)
}

// testApps has, per format, an app with an AESKey (compat and safe modes)
// and one without (plaintext mode).
func testApps() miniback.Apps {
	apps := miniback.Apps{}
	for _, f := range []string{push.FormatJSON, push.FormatXML} {
		id := "wxenc" + strings.ToLower(f)
		apps[id] = &miniback.App{AppID: id, Token: testToken, AESKey: testAESKey, MsgFormat: f}
		id = "wxplain" + strings.ToLower(f)
		apps[id] = &miniback.App{AppID: id, Token: testToken, MsgFormat: f}
	}
	return apps
}

type portalEnv struct {
	portal *inbox.Portal
	inbox  *sqlite.InboxStore
	queue  *recorder
	server *httptest.Server
}

func newPortalEnv(tb testing.TB) *portalEnv {
	tb.Helper()
	env := &portalEnv{inbox: mustInbox(tb), queue: &recorder{}}
	env.portal = &inbox.Portal{
		Apps: testApps(), Inbox: env.inbox, Queue: env.queue,
		MaxAge: 5 * time.Minute, Now: func() time.Time { return testNow },
	}
	mux := http.NewServeMux()
	mux.Handle("GET /wx/portal/{appid}", adapt(env.portal.ServeVerify))
	mux.Handle("POST /wx/portal/{appid}", adapt(env.portal.ServeMessage))
	env.server = httptest.NewServer(mux)
	tb.Cleanup(env.server.Close)
	return env
}

// adapt stands in for the lead's error adapter, with its status table.
func adapt(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			http.Error(w, miniback.ErrorCode(err), api.StatusOf(miniback.ErrorCode(err)))
		}
	})
}

// pushReq is one push as WeChat would send it.
type pushReq struct {
	appid string
	query url.Values
	body  []byte
}

// buildPush builds the request for inner (a plaintext message in the
// app's format) in mode plain, compat or safe, independently of the
// sandbox: the envelope is assembled here and encrypted with wxcrypto.
func buildPush(tb testing.TB, appid, mode, format string, inner []byte, ts int64) pushReq {
	tb.Helper()
	tsText, nonce := strconv.FormatInt(ts, 10), "1514711492"
	q := url.Values{"timestamp": {tsText}, "nonce": {nonce}, "signature": {wxcrypto.Signature(testToken, tsText, nonce)}}
	if mode == "plain" {
		return pushReq{appid: appid, query: q, body: inner}
	}
	crypt, err := wxcrypto.NewMsgCrypt(testToken, testAESKey, appid)
	if err != nil {
		tb.Fatal(err)
	}
	enc, err := crypt.Encrypt(inner)
	if err != nil {
		tb.Fatal(err)
	}
	q.Set("encrypt_type", "aes")
	q.Set("openid", "oUser")
	q.Set("msg_signature", wxcrypto.MsgSignature(testToken, tsText, nonce, enc))
	return pushReq{appid: appid, query: q, body: envelope(tb, format, mode == "compat", inner, enc)}
}

// envelope wraps enc; in compat mode it also carries the plaintext fields.
func envelope(tb testing.TB, format string, compat bool, inner []byte, enc string) []byte {
	tb.Helper()
	if format == push.FormatXML {
		fields := "<ToUserName><![CDATA[gh_test]]></ToUserName>"
		if compat {
			s := string(inner)
			fields = strings.TrimSuffix(strings.TrimPrefix(s, "<xml>"), "</xml>")
		}
		return []byte("<xml>" + fields + "<Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>")
	}
	obj := map[string]any{"ToUserName": "gh_test"}
	if compat {
		if err := json.Unmarshal(inner, &obj); err != nil {
			tb.Fatal(err)
		}
	}
	obj["Encrypt"] = enc
	b, err := json.Marshal(obj)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// send posts p to the portal and returns the status and body.
func (env *portalEnv) send(tb testing.TB, p pushReq) (int, string) {
	tb.Helper()
	u := env.server.URL + "/wx/portal/" + p.appid + "?" + p.query.Encode()
	resp, err := env.server.Client().Post(u, "text/plain", strings.NewReader(string(p.body)))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, strings.TrimSpace(b.String())
}

// rows returns the inbox rows of appid.
func (env *portalEnv) rows(tb testing.TB, appid string) []*miniback.InboxMessage {
	tb.Helper()
	rows, err := env.inbox.Inbox(context.Background(), appid, miniback.InboxQuery{Limit: 100})
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

var errQueueDown = errors.New("queue down")

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "push", "testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func formatOf(name string) string {
	if strings.HasSuffix(name, ".xml") {
		return push.FormatXML
	}
	return push.FormatJSON
}

func newRequest(tb testing.TB, method, target string) *http.Request {
	tb.Helper()
	return httptest.NewRequest(method, target, nil)
}

func recordRequest(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}
