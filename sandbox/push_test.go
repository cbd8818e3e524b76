package sandbox

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// received is one request the fake backend got.
type received struct {
	Query       url.Values
	ContentType string
	Body        []byte
}

// backend starts a push receiver answering "success" and returns its URL
// and the channel of what it receives.
func backend(t *testing.T) (string, chan received) {
	t.Helper()
	ch := make(chan received, 16)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- received{Query: r.URL.Query(), ContentType: r.Header.Get("Content-Type"), Body: b}
		_, _ = w.Write([]byte("success"))
	}))
	t.Cleanup(ts.Close)
	return ts.URL + "/wx/portal/x", ch
}

func sortedSHA1(parts ...string) string {
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// decryptMsg is WXBizMsgCrypt decryption, written from the protocol doc
// with crypto/aes, independent of the sandbox's encryptMsg.
func decryptMsg(t *testing.T, encodingAESKey, appid, enc string) []byte {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	ct, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(ct)%32 != 0 {
		t.Fatalf("ciphertext: %v len %d", err, len(ct))
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 32 {
		t.Fatalf("pad %d", pad)
	}
	plain = plain[:len(plain)-pad]
	n := int(binary.BigEndian.Uint32(plain[16:20]))
	if got := string(plain[20+n:]); got != appid {
		t.Fatalf("appid %q, want %q", got, appid)
	}
	return plain[20 : 20+n]
}

const textMsg = `{"ToUserName":"gh_abc","FromUserName":"oFrom","CreateTime":1482048670,"MsgType":"text","Content":"a <b> & ]]> c","MsgId":1234567890123456789,"List":[{"A":1},{"A":2}],"Obj":{"X":"y","N":null,"B":true}}`

const textMsgXML = `<xml><ToUserName><![CDATA[gh_abc]]></ToUserName><FromUserName><![CDATA[oFrom]]></FromUserName><CreateTime>1482048670</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[a <b> & ]]]]><![CDATA[> c]]></Content><MsgId>1234567890123456789</MsgId><List><A>1</A></List><List><A>2</A></List><Obj><X><![CDATA[y]]></X><N></N><B>true</B></Obj></xml>`

func pushEnv(t *testing.T) (*env, chan received) {
	u, ch := backend(t)
	e := newEnv(t, func(c *Config) {
		c.Apps[0].PushURL = u
		c.Apps[1].PushURL = u + "?keep=1"
	})
	return e, ch
}

func TestPushModes(t *testing.T) {
	e, ch := pushEnv(t)
	cases := []struct {
		appid, token, mode, wantCT, plain string
	}{
		{app1, "tok1", ModePlain, "application/json", textMsg},
		{app1, "tok1", ModeCompat, "application/json", textMsg},
		{app1, "tok1", ModeSafe, "application/json", textMsg},
		{app2, "tok2", ModePlain, "text/xml", textMsgXML},
		{app2, "tok2", ModeCompat, "text/xml", textMsgXML},
		{app2, "tok2", ModeSafe, "text/xml", textMsgXML},
	}
	for _, c := range cases {
		t.Run(c.appid+"/"+c.mode, func(t *testing.T) {
			body := `{"appid":"` + c.appid + `","mode":"` + c.mode + `","timestamp":1714037059,"nonce":"486452656","message":` + textMsg + `}`
			r := e.do(http.MethodPost, "/sandbox/push", nil, "application/json", []byte(body))
			if r.str("body") != "success" || r.M["status"].(json.Number).String() != "200" {
				t.Fatalf("push answer %s", r.Body)
			}
			got := <-ch
			q := got.Query
			if got.ContentType != c.wantCT || q.Get("timestamp") != "1714037059" || q.Get("nonce") != "486452656" ||
				q.Get("signature") != sortedSHA1(c.token, "1714037059", "486452656") {
				t.Fatalf("query %v content type %q", q, got.ContentType)
			}
			if c.appid == app2 && q.Get("keep") != "1" {
				t.Fatalf("push URL query lost: %v", q)
			}
			if c.mode == ModePlain {
				if string(got.Body) != c.plain || q.Has("encrypt_type") {
					t.Fatalf("plain body %s query %v", got.Body, q)
				}
				return
			}
			checkEncrypted(t, c.appid, c.token, c.mode, c.plain, got)
		})
	}
}

// checkEncrypted checks an encrypted push's query and envelope and that
// Encrypt decrypts to the plaintext message.
func checkEncrypted(t *testing.T, appid, token, mode, plain string, got received) {
	t.Helper()
	var env struct {
		ToUserName, Encrypt, Content string
	}
	var err error
	if strings.HasPrefix(plain, "<xml>") {
		err = xml.Unmarshal(got.Body, &env)
	} else {
		err = json.Unmarshal(got.Body, &env)
	}
	if err != nil {
		t.Fatalf("envelope %s: %v", got.Body, err)
	}
	q := got.Query
	if q.Get("encrypt_type") != "aes" || q.Get("openid") != "oFrom" ||
		q.Get("msg_signature") != sortedSHA1(token, q.Get("timestamp"), q.Get("nonce"), env.Encrypt) {
		t.Fatalf("query %v", q)
	}
	if env.ToUserName != "gh_abc" {
		t.Fatalf("ToUserName %q", env.ToUserName)
	}
	if (mode == ModeCompat) != (env.Content == "a <b> & ]]> c") {
		t.Fatalf("%s mode: plaintext fields present = %v: %s", mode, env.Content != "", got.Body)
	}
	if dec := decryptMsg(t, testAESKey, appid, env.Encrypt); string(dec) != plain {
		t.Fatalf("decrypted %s", dec)
	}
}

func TestBuildPushReplay(t *testing.T) {
	e, ch := pushEnv(t)
	p, err := e.s.BuildPush(PushRequest{AppID: app1, Message: json.RawMessage(`{"ToUserName":"gh_abc","FromUserName":"oFrom","MsgType":"event","Event":"debug_demo"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var first received
	for i := range 3 {
		req, err := p.Request(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := <-ch
		if i == 0 {
			first = got
			// The app has an AESKey, so the default mode is safe.
			if first.Query.Get("encrypt_type") != "aes" || first.Query.Get("timestamp") != "1772359200" {
				t.Fatalf("default push %v", first.Query)
			}
			continue
		}
		if got.Query.Encode() != first.Query.Encode() || string(got.Body) != string(first.Body) {
			t.Fatal("replays must be identical")
		}
	}
	status, body, err := e.s.Push(context.Background(), PushRequest{AppID: app1, Message: json.RawMessage(`{}`), Mode: ModeCompat})
	if err != nil || status != 200 || body != "success" {
		t.Fatalf("Push: %d %q %v", status, body, err)
	}
	if got := <-ch; !strings.HasPrefix(string(got.Body), `{"Encrypt":"`) {
		t.Fatalf("compat of {}: %s", got.Body)
	}
}

func TestPushErrors(t *testing.T) {
	e, _ := pushEnv(t)
	cases := []struct {
		name string
		body map[string]any
		want int
	}{
		{"unknown app", map[string]any{"appid": "wxnope", "message": map[string]any{}}, http.StatusNotFound},
		{"not an object", map[string]any{"appid": app1, "message": []int{1}}, http.StatusBadRequest},
		{"no message", map[string]any{"appid": app1}, http.StatusBadRequest},
		{"bad mode", map[string]any{"appid": app1, "message": map[string]any{}, "mode": "loud"}, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := e.post("/sandbox/push", nil, c.body); r.Status != c.want || r.str("error") == "" {
				t.Fatalf("status %d body %s", r.Status, r.Body)
			}
		})
	}
	noURL := newEnv(t)
	if r := noURL.post("/sandbox/push", nil, map[string]any{"appid": app1, "message": map[string]any{}}); r.Status != http.StatusBadRequest {
		t.Fatalf("no push URL: %d", r.Status)
	}
	noKey := newEnv(t, func(c *Config) { c.Apps[0].AESKey, c.Apps[0].PushURL = "", "http://127.0.0.1:1/x" })
	if _, err := noKey.s.BuildPush(PushRequest{AppID: app1, Message: json.RawMessage(`{}`), Mode: ModeSafe}); err == nil {
		t.Fatal("safe mode without AESKey must fail")
	}
	if r := noKey.post("/sandbox/push", nil, map[string]any{"appid": app1, "message": map[string]any{}}); r.Status != http.StatusBadGateway {
		t.Fatalf("unreachable backend: %d %s", r.Status, r.Body)
	}
}

func TestJSONToXML(t *testing.T) {
	got, err := jsonToXML([]byte(textMsg))
	if err != nil || string(got) != textMsgXML {
		t.Fatalf("jsonToXML = %s, %v", got, err)
	}
	for _, bad := range []string{`[]`, `"x"`, `{"a":`, ``} {
		if _, err := jsonToXML([]byte(bad)); err == nil {
			t.Errorf("jsonToXML(%q) accepted", bad)
		}
	}
}
