package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// loginCode is a wx.login code: valid CodeTTL, once, for one app.
type loginCode struct {
	AppID   string
	OpenID  string
	Expires time.Time
	Used    bool
}

// LoginRequest is what POST /sandbox/login takes. OpenID, when set, is the
// user's openid; otherwise User, when set, names a person from whom a stable
// openid (per app) and unionid (across apps) are derived; with neither, a
// new user with a random openid is created. UnionID, when set, is recorded
// for the user.
type LoginRequest struct {
	AppID   string `json:"appid"`
	OpenID  string `json:"openid,omitempty"`
	UnionID string `json:"unionid,omitempty"`
	User    string `json:"user,omitempty"`
}

// LoginResponse is what POST /sandbox/login answers.
type LoginResponse struct {
	Code   string `json:"code"`
	OpenID string `json:"openid"`
}

// Login stands in for wx.login on the phone of user openid of app appid
// (a new user with a random openid when openid is ""), and returns the
// code the mini program would send to its backend. It fails only for an
// unknown appid. It is safe for concurrent use.
func (s *Server) Login(appid, openid string) (code string, err error) {
	resp, err := s.LoginAs(LoginRequest{AppID: appid, OpenID: openid})
	return resp.Code, err
}

// LoginAs is Login with every option of POST /sandbox/login.
func (s *Server) LoginAs(req LoginRequest) (LoginResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appForControl(req.AppID)
	if err != nil {
		return LoginResponse{}, err
	}
	u := a.userFor(req)
	code := randomCode(32)
	s.codes[code] = &loginCode{AppID: a.AppID, OpenID: u.OpenID, Expires: s.now().Add(s.cfg.CodeTTL)}
	s.codeOrder.push(code)
	s.trimCodes()
	return LoginResponse{Code: code, OpenID: u.OpenID}, nil
}

// userFor finds or creates the user a login request names.
func (a *appState) userFor(req LoginRequest) *user {
	openid, unionid := req.OpenID, req.UnionID
	if openid == "" && req.User != "" {
		openid = deriveID("openid", a.AppID, req.User)
		if unionid == "" {
			unionid = deriveID("unionid", req.User)
		}
	}
	if openid == "" {
		openid = "o" + base64.RawURLEncoding.EncodeToString(randBytes(21))[:27]
	}
	u := a.ensureUser(openid)
	if unionid != "" {
		u.UnionID = unionid
	}
	return u
}

// ensureUser returns the app's user openid, creating it if needed.
func (a *appState) ensureUser(openid string) *user {
	u, ok := a.users[openid]
	if !ok {
		u = &user{OpenID: openid}
		a.users[openid] = u
		a.userOrder.push(openid)
		a.trimUsers()
	}
	return u
}

// deriveID makes a 28-character id shaped like a real openid/unionid
// ('o' and 27 base64url characters) that depends only on parts.
func deriveID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "o" + base64.RawURLEncoding.EncodeToString(sum[:])[:27]
}

const codeAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomCode returns n random characters of [0-9A-Za-z], like wx.login codes.
func randomCode(n int) string {
	b := randBytes(n)
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b)
}

type sessionResponse struct {
	SessionKey string `json:"session_key"`
	OpenID     string `json:"openid"`
	UnionID    string `json:"unionid,omitempty"`
}

// handleJSCode2Session serves GET /sns/jscode2session. An access_token,
// which WxJava sends, is ignored. Success has no errcode field; each
// success rotates the user's session_key.
func (s *Server) handleJSCode2Session(w http.ResponseWriter, r *http.Request) error {
	if err := requireMethod(r, http.MethodGet); err != nil {
		return err
	}
	q := r.URL.Query()
	ans, err := s.jscode2session(q.Get("appid"), q.Get("secret"), q.Get("grant_type"), q.Get("js_code"))
	if err != nil {
		return err
	}
	// Written after the lock is released: logins do not queue behind
	// each other's answers.
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// jscode2session consumes code and rotates the user's session_key, under
// the sandbox's lock.
func (s *Server) jscode2session(appid, secret, grantType, code string) (sessionResponse, error) {
	key := base64.StdEncoding.EncodeToString(randBytes(16))
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.checkCredentials(appid, secret, grantType, "authorization_code")
	if err != nil {
		return sessionResponse{}, err
	}
	u, err := s.useLoginCode(a, code)
	if err != nil {
		return sessionResponse{}, err
	}
	u.SessionKey = key
	return sessionResponse{SessionKey: u.SessionKey, OpenID: u.OpenID, UnionID: u.UnionID}, nil
}

// useLoginCode consumes a wx.login code of app a: 41008 when empty, 40029
// when unknown, expired or another app's, 40163 when already used.
func (s *Server) useLoginCode(a *appState, code string) (*user, error) {
	if code == "" {
		return nil, wxErr(41008, "missing code")
	}
	c, ok := s.codes[code]
	if !ok || c.AppID != a.AppID {
		return nil, wxErr(40029, "invalid code")
	}
	if c.Used {
		return nil, wxErr(40163, "code been used")
	}
	if !s.now().Before(c.Expires) {
		return nil, wxErr(40029, "invalid code")
	}
	c.Used = true
	return a.ensureUser(c.OpenID), nil
}

// SessionKey returns the current session_key of a user, or "" when the
// user never exchanged a code. It exists for tests only: the real platform
// never tells anyone but the backend.
func (s *Server) SessionKey(appid, openid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.apps[appid]; ok {
		if u, ok := a.users[openid]; ok {
			return u.SessionKey
		}
	}
	return ""
}

// handleCheckSession serves GET /wxa/checksession. The signature is the
// hex HMAC-SHA256 of the empty string keyed by the ASCII session_key;
// either hex case is accepted. An openid the app never saw is 40003.
func (s *Server) handleCheckSession(w http.ResponseWriter, r *http.Request, a *appState) error {
	q := r.URL.Query()
	if q.Get("sig_method") != "hmac_sha256" {
		return wxErr(87008, "invalid sig_method")
	}
	u, ok := a.users[q.Get("openid")]
	if !ok {
		return wxErr(40003, "invalid openid")
	}
	if u.SessionKey == "" || !validLoginSignature(u.SessionKey, nil, q.Get("signature")) {
		return wxErr(87009, "invalid signature")
	}
	writeOK(w, nil)
	return nil
}

// validLoginSignature checks a login-state signature: hex HMAC-SHA256 of
// msg keyed by the base64 session_key string as is.
func validLoginSignature(sessionKey string, msg []byte, sig string) bool {
	got, err := hex.DecodeString(strings.ToLower(sig))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(sessionKey))
	mac.Write(msg)
	return hmac.Equal(got, mac.Sum(nil))
}
