package sandbox

import (
	"encoding/base64"
	"net/http"
	"time"
)

// handover is how long a replaced token stays valid.
const handover = 5 * time.Minute

// Forced stable-token refresh limits [doc]: 20 per day, ≥ 30 s apart.
const (
	maxForcePerDay = 20
	minForceGap    = 30 * time.Second
)

// beijing is the zone whose calendar day the daily quotas count in.
var beijing = time.FixedZone("CST", 8*3600)

type tokenKind int

const (
	classicToken tokenKind = iota
	stableToken
)

// tokenRecord is an issued access token. A token is rejected with 42001
// once Expires has passed, and with 40001 ("not latest") once a newer token
// has replaced it and its handover deadline has passed.
type tokenRecord struct {
	AppID    string
	Kind     tokenKind
	Expires  time.Time
	Replaced time.Time // zero while it is the latest or inside the handover
}

func newToken() string {
	// Real tokens are opaque, ~140 characters of [A-Za-z0-9_-].
	return base64.RawURLEncoding.EncodeToString(randBytes(105))
}

// issueToken creates a token for app. The caller holds s.mu.
func (s *Server) issueToken(appid string, kind tokenKind) (string, *tokenRecord) {
	tok := newToken()
	rec := &tokenRecord{AppID: appid, Kind: kind, Expires: s.now().Add(s.cfg.TokenTTL)}
	s.tokens[tok] = rec
	return tok, rec
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// checkCredentials applies the shared appid/secret/grant_type checks of
// the token and login endpoints. The caller holds s.mu.
func (s *Server) checkCredentials(appid, secret, grantType, wantGrant string) (*appState, error) {
	if grantType != wantGrant {
		return nil, wxErr(40002, "invalid grant_type")
	}
	a, ok := s.apps[appid]
	if !ok {
		return nil, wxErr(40013, "invalid appid")
	}
	if secret != a.Secret {
		return nil, wxErr(40125, "invalid appsecret")
	}
	return a, nil
}

// handleToken serves GET /cgi-bin/token. Every call issues a new token;
// the previous one keeps working for the 5-minute handover only.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	if err := requireMethod(r, http.MethodGet); err != nil {
		return err
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.checkCredentials(q.Get("appid"), q.Get("secret"), q.Get("grant_type"), "client_credential")
	if err != nil {
		return err
	}
	now := s.now()
	if old, ok := s.tokens[a.classic]; ok && old.Replaced.IsZero() {
		old.Replaced = now.Add(handover)
	}
	tok, _ := s.issueToken(a.AppID, classicToken)
	a.classic = tok
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, ExpiresIn: int64(s.cfg.TokenTTL / time.Second)})
	return nil
}

type stableTokenRequest struct {
	GrantType    string `json:"grant_type"`
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh"`
}

// handleStableToken serves POST /cgi-bin/stable_token. A body that is not
// a JSON object (a form post, say) answers 41002 "appid missing", as the
// real platform does; the Content-Type header is not looked at.
func (s *Server) handleStableToken(w http.ResponseWriter, r *http.Request) error {
	if err := requireMethod(r, http.MethodPost); err != nil {
		return err
	}
	var req stableTokenRequest
	if err := decodeWX(r, &req); err != nil || req.AppID == "" {
		return wxErr(41002, "appid missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.checkCredentials(req.AppID, req.Secret, req.GrantType, "client_credential")
	if err != nil {
		return err
	}
	var tok string
	if req.ForceRefresh {
		tok, err = s.forceStable(a)
	} else {
		tok = s.normalStable(a)
	}
	if err != nil {
		return err
	}
	left := s.tokens[tok].Expires.Sub(s.now())
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, ExpiresIn: int64(left / time.Second)})
	return nil
}

// normalStable returns the current stable token while more than the
// handover is left of it; in its last 5 minutes it issues the next one and
// lets the old one run out naturally.
func (s *Server) normalStable(a *appState) string {
	if cur, ok := s.tokens[a.stable]; ok && cur.Replaced.IsZero() && s.now().Before(cur.Expires.Add(-handover)) {
		return a.stable
	}
	tok, _ := s.issueToken(a.AppID, stableToken)
	a.stable = tok
	return tok
}

// forceStable revokes every earlier stable token and issues a new one,
// unless the last forced refresh was under 30 s ago (then the current
// token comes back unchanged) or the day's 20 are used up (45009).
func (s *Server) forceStable(a *appState) (string, error) {
	now := s.now()
	if !a.lastForce.IsZero() && now.Sub(a.lastForce) < minForceGap {
		if cur, ok := s.tokens[a.stable]; ok && now.Before(cur.Expires) {
			return a.stable, nil
		}
		return s.normalStable(a), nil
	}
	day := now.In(beijing).Format(time.DateOnly)
	if a.forceDay != day {
		a.forceDay, a.forceCount = day, 0
	}
	if a.forceCount >= maxForcePerDay {
		return "", wxErr(45009, "reach max api daily quota limit")
	}
	a.forceCount++
	a.lastForce = now
	for _, rec := range s.tokens {
		if rec.AppID == a.AppID && rec.Kind == stableToken && (rec.Replaced.IsZero() || rec.Replaced.After(now)) {
			rec.Replaced = now
		}
	}
	tok, _ := s.issueToken(a.AppID, stableToken)
	a.stable = tok
	return tok, nil
}

// authApp checks the access_token query parameter and returns its app:
// 41001 when missing, 40001 when unknown or replaced, 42001 when expired.
// The caller holds s.mu.
func (s *Server) authApp(r *http.Request) (*appState, error) {
	tok := r.URL.Query().Get("access_token")
	if tok == "" {
		return nil, wxErr(41001, "access_token missing")
	}
	rec, ok := s.tokens[tok]
	now := s.now()
	switch {
	case !ok:
		return nil, errInvalidCredential
	case !now.Before(rec.Expires):
		return nil, wxErr(42001, "access_token expired")
	case !rec.Replaced.IsZero() && !now.Before(rec.Replaced):
		return nil, errInvalidCredential
	}
	a, ok := s.apps[rec.AppID]
	if !ok {
		return nil, errInvalidCredential
	}
	return a, nil
}

var errInvalidCredential = wxErr(40001, "invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r")

// authed wraps a token-protected API: it checks the method, then the token,
// and holds s.mu while h runs.
func (s *Server) authed(method string, h func(w http.ResponseWriter, r *http.Request, a *appState) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := requireMethod(r, method); err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		a, err := s.authApp(r)
		if err != nil {
			return err
		}
		return h(w, r, a)
	}
}
