package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Push modes, as configured in the mini program console (d).
const (
	ModePlain  = "plain"
	ModeCompat = "compat"
	ModeSafe   = "safe"
)

// OriginalID is the sandbox's original id (gh_…) of appid, the ToUserName
// of the pushes it makes up itself (wxa_media_check).
func OriginalID(appid string) string {
	sum := sha256.Sum256([]byte(appid))
	return "gh_" + hex.EncodeToString(sum[:])[:12]
}

// PushRequest is a push to build and send, and what POST /sandbox/push
// takes. Message is the JSON object of the push (d.6). Mode is plain,
// compat or safe; "" means the app's PushMode. Timestamp (unix seconds)
// and Nonce default to now and a random number.
type PushRequest struct {
	AppID     string          `json:"appid"`
	Message   json.RawMessage `json:"message"`
	Mode      string          `json:"mode,omitempty"`
	Timestamp int64           `json:"timestamp,omitempty"`
	Nonce     string          `json:"nonce,omitempty"`
}

// BuiltPush is a signed push ready to send, any number of times (WeChat
// retries a push up to 3 times with the same query and body).
type BuiltPush struct {
	URL         string // the app's PushURL with the signed query
	ContentType string
	Body        []byte
}

// Request returns a new POST request for p.
func (p *BuiltPush) Request(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(p.Body))
	if err != nil {
		return nil, fmt.Errorf("sandbox: push request: %w", err)
	}
	req.Header.Set("Content-Type", p.ContentType)
	req.Header.Set("User-Agent", "Mozilla/4.0")
	return req, nil
}

// BuildPush builds req exactly as WeChat would send it (d.2–d.4) in the
// app's MsgFormat: JSON as given, or XML converted from the JSON object
// (strings in CDATA, numbers bare, objects nested, arrays as repeated
// elements). Plain mode signs the query with signature, timestamp and
// nonce; compat adds Encrypt to the plaintext fields and safe sends only
// ToUserName and Encrypt, both adding openid, encrypt_type=aes and
// msg_signature. It fails for an unknown app, an app without PushURL, a
// message that is not a JSON object, an unknown mode, or an encrypted mode
// without AESKey. It is safe for concurrent use.
func (s *Server) BuildPush(req PushRequest) (*BuiltPush, error) {
	a, err := s.pushApp(req.AppID)
	if err != nil {
		return nil, err
	}
	mode := req.Mode
	if mode == "" {
		mode = a.PushMode
	}
	var head struct{ ToUserName, FromUserName string }
	if err := json.Unmarshal(req.Message, &head); err != nil || !isJSONObject(req.Message) {
		return nil, ctlErr(http.StatusBadRequest, "message must be a JSON object")
	}
	plain, err := encodePushBody(a.MsgFormat, req.Message)
	if err != nil {
		return nil, err
	}
	ts, nonce := req.Timestamp, req.Nonce
	if ts == 0 {
		ts = s.now().Unix()
	}
	if nonce == "" {
		nonce = strconv.FormatUint(uint64(binary.BigEndian.Uint32(randBytes(4))), 10)
	}
	tsStr := strconv.FormatInt(ts, 10)
	q := url.Values{"signature": {sha1Sorted(a.Token, tsStr, nonce)}, "timestamp": {tsStr}, "nonce": {nonce}}
	body := plain
	switch mode {
	case ModePlain:
	case ModeCompat, ModeSafe:
		if body, err = encryptedBody(a.App, mode, head.ToUserName, plain, q, nonce, tsStr); err != nil {
			return nil, err
		}
		q.Set("openid", head.FromUserName)
	default:
		return nil, ctlErr(http.StatusBadRequest, "unknown push mode %q", mode)
	}
	return &BuiltPush{URL: withQuery(a.PushURL, q), ContentType: contentType(a.MsgFormat), Body: body}, nil
}

// pushApp returns a copy of the app to push for.
func (s *Server) pushApp(appid string) (*appState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appForControl(appid)
	if err != nil {
		return nil, err
	}
	if a.PushURL == "" {
		return nil, ctlErr(http.StatusBadRequest, "app %q has no push URL", appid)
	}
	return &appState{App: a.App}, nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

func contentType(format string) string {
	if format == "XML" {
		return "text/xml"
	}
	return "application/json"
}

// encodePushBody renders the message in the app's format.
func encodePushBody(format string, msg json.RawMessage) ([]byte, error) {
	if format == "XML" {
		x, err := jsonToXML(msg)
		if err != nil {
			return nil, ctlErr(http.StatusBadRequest, "message: %v", err)
		}
		return x, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, msg); err != nil {
		return nil, ctlErr(http.StatusBadRequest, "message: %v", err)
	}
	return buf.Bytes(), nil
}

// encryptedBody builds the compat or safe envelope of plain and sets
// encrypt_type and msg_signature on q.
func encryptedBody(a App, mode, toUser string, plain []byte, q url.Values, nonce, ts string) ([]byte, error) {
	if a.AESKey == "" {
		return nil, ctlErr(http.StatusBadRequest, "app %q has no EncodingAESKey for %s mode", a.AppID, mode)
	}
	enc, err := encryptMsg(a.AESKey, a.AppID, plain)
	if err != nil {
		return nil, ctlErr(http.StatusBadRequest, "%v", err)
	}
	q.Set("encrypt_type", "aes")
	q.Set("msg_signature", sha1Sorted(a.Token, ts, nonce, enc))
	xml := a.MsgFormat == "XML"
	switch {
	case mode == ModeCompat && xml:
		return append(bytes.TrimSuffix(plain, []byte("</xml>")), []byte("<Encrypt>"+cdata(enc)+"</Encrypt></xml>")...), nil
	case mode == ModeCompat:
		encJSON, _ := json.Marshal(enc)
		if string(plain) == "{}" {
			return []byte(`{"Encrypt":` + string(encJSON) + `}`), nil
		}
		return append(plain[:len(plain)-1:len(plain)-1], []byte(`,"Encrypt":`+string(encJSON)+`}`)...), nil
	case xml:
		return []byte("<xml><ToUserName>" + cdata(toUser) + "</ToUserName><Encrypt>" + cdata(enc) + "</Encrypt></xml>"), nil
	}
	return json.Marshal(struct {
		ToUserName string
		Encrypt    string
	}{toUser, enc})
}

func withQuery(raw string, q url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw + "?" + q.Encode()
	}
	all := u.Query()
	for k, v := range q {
		all[k] = v
	}
	u.RawQuery = all.Encode()
	return u.String()
}

// Push builds req (see BuildPush), POSTs it to the app's PushURL and
// returns the backend's status and body (at most 1 MB of it). err is set
// when the push could not be built or the backend could not be reached.
func (s *Server) Push(ctx context.Context, req PushRequest) (status int, body string, err error) {
	p, err := s.BuildPush(req)
	if err != nil {
		return 0, "", err
	}
	return s.send(ctx, p)
}

func (s *Server) send(ctx context.Context, p *BuiltPush) (int, string, error) {
	hreq, err := p.Request(ctx)
	if err != nil {
		return 0, "", err
	}
	resp, err := s.client.Do(hreq)
	if err != nil {
		return 0, "", fmt.Errorf("sandbox: push to %s: %w", hreq.URL.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, string(b), fmt.Errorf("sandbox: push response: %w", err)
	}
	return resp.StatusCode, string(b), nil
}

func (s *Server) handleControlPush(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost); err != nil {
		return err
	}
	var req PushRequest
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	p, err := s.BuildPush(req)
	if err != nil {
		return err
	}
	status, body, err := s.send(r.Context(), p)
	if err != nil {
		return ctlErr(http.StatusBadGateway, "%v", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": status, "body": body})
	return nil
}

// cdata wraps s in CDATA, splitting any "]]>" inside it.
func cdata(s string) string {
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}
