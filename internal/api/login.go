package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/gateway"
	"github.com/miniback/miniback/internal/metrics"
	"github.com/miniback/miniback/internal/session"
)

// tokenPair is the answer of login and refresh.
type tokenPair struct {
	AccessToken  string         `json:"access_token"`
	TokenType    string         `json:"token_type"`
	ExpiresIn    int64          `json:"expires_in"`
	RefreshToken string         `json:"refresh_token"`
	User         *miniback.User `json:"user,omitempty"`
	Created      *bool          `json:"created,omitempty"`
}

type codeRequest struct {
	Code string `json:"code"`
}

// validCode accepts the opaque codes WeChat hands out: printable ASCII
// without spaces, at most 256 bytes.
func validCode(code string) error {
	if code == "" {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "code is required")
	}
	if len(code) > 256 {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "code is too long")
	}
	for _, c := range code {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) || c == ' ' {
			return miniback.Errorf(miniback.ECodeInvalidRequest, "code has characters WeChat never uses")
		}
	}
	return nil
}

// handleLogin exchanges a wx.login code for a session: code2session, then
// one store transaction (the user row, the sealed session key, the
// session) and the first token pair.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) (err error) {
	result := metrics.LoginExisting
	defer func() { s.countLogin(r, result, err) }()
	var req codeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := validCode(req.Code); err != nil {
		return err
	}
	app := s.appOf(r)
	ctx := r.Context()
	wx, err := s.WeChat[app.AppID].Code2Session(ctx, req.Code)
	if err != nil {
		return fromWeChat(ctx, err)
	}
	now := s.Now()
	sess := &miniback.Session{ID: session.NewSessionID(now), AppID: app.AppID, CreatedAt: now, ExpiresAt: now.Add(s.RefreshTTL)}
	refresh, hash := session.NewRefreshToken(app.AppID)
	// One transaction: the user, the session key of its older sessions
	// (WeChat keeps one valid session_key per user) and the new session.
	user, created, err := s.Sessions.Login(ctx, &miniback.Login{
		AppID: app.AppID, OpenID: wx.OpenID, UnionID: wx.UnionID, Now: now,
		Session: sess, RefreshToken: &miniback.RefreshToken{Hash: hash, ExpiresAt: sess.ExpiresAt},
		Seal: func(u *miniback.User) ([]byte, error) {
			return s.Sealer.Seal([]byte(wx.SessionKey), sealBinding(app.AppID, u.ID))
		},
	})
	if err != nil {
		return err
	}
	pair, err := s.pair(app.AppID, user.ID, sess.ID, refresh)
	if err != nil {
		return err
	}
	pair.User, pair.Created = user, &created
	if created {
		result = metrics.LoginCreated
	}
	s.recordLogin(ctx, app.AppID, user.ID, sess.ID, now)
	writeJSON(w, http.StatusOK, pair)
	return nil
}

// countLogin counts a login in miniback_logins_total. Requests refused
// before their code reached WeChat (bad JSON, a code WeChat never issues,
// a rate limit, WeChat's open circuit breaker) and requests the client
// abandoned are not logins and are not counted.
func (s *Server) countLogin(r *http.Request, result string, err error) {
	if clientGone(r) {
		return // counted as a 499 request, not as a login
	}
	if open := (*gateway.OpenError)(nil); errors.As(err, &open) {
		return // counted as a 503 request and as a circuit_open WeChat call
	}
	switch miniback.ErrorCode(err) {
	case "":
	case miniback.ECodeInvalidRequest, miniback.ECodeUnsupportedMedia, miniback.ECodeTooLarge, miniback.ECodeRateLimited:
		return
	case miniback.ECodeInvalidCode:
		result = metrics.LoginInvalidCode
	default:
		result = metrics.LoginError
	}
	s.Metrics.Login(r.PathValue("appid"), result)
}

// sealBinding ties a sealed session key to its owner.
func sealBinding(appid string, userID int64) []byte {
	return []byte(appid + ":" + strconv.FormatInt(userID, 10))
}

func (s *Server) pair(appid string, userID int64, sessionID, refresh string) (*tokenPair, error) {
	access, _, err := s.Tokens.Issue(appid, userID, sessionID)
	if err != nil {
		return nil, err
	}
	return &tokenPair{AccessToken: access, TokenType: "Bearer", ExpiresIn: int64(s.Tokens.AccessTTL / time.Second),
		RefreshToken: refresh}, nil
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// handleRefresh rotates a refresh token. Presenting one that was already
// used revokes its whole session (the store does it in the same transaction).
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	var req refreshRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" || len(req.RefreshToken) > 256 {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "refresh_token is required")
	}
	appid := r.PathValue("appid")
	now := s.Now()
	next, nextHash := session.NewRefreshToken(appid)
	// The hash covers the appid, so a token shown to another app is simply unknown.
	sess, err := s.Sessions.RotateRefreshToken(r.Context(), session.HashRefreshToken(appid, req.RefreshToken),
		&miniback.RefreshToken{Hash: nextHash, ExpiresAt: now.Add(s.RefreshTTL)}, now)
	if err != nil {
		return err
	}
	pair, err := s.pair(appid, sess.UserID, sess.ID, next)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pair)
	return nil
}

// handleLogout revokes the session of the access token.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	a := miniback.AuthFrom(r.Context())
	if err := s.Sessions.RevokeSession(r.Context(), a.SessionID, s.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
