package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/miniback/miniback"
)

type (
	sessionKeyCtx  struct{}
	userKeyCtx     struct{}
	userJSONKeyCtx struct{}
)

// authed wraps h so that it runs only with a valid access token for the
// path's appid whose session is live. The signature check may be served
// from the Issuer's cache; the revocation check reads the session store
// every time, so a logout is effective at once on every instance. A store
// that reads the session with its user in one query (SessionReader)
// also hands the handler the user, which GET /me then need not read again.
func (s *Server) authed(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, sess, user, userJSON, err := s.authenticate(r, r.PathValue("appid"))
		if err != nil {
			return err
		}
		if err := s.limit(w, r, "api_per_user", a.AppID+":"+strconv.FormatInt(a.UserID, 10), s.Limits.APIPerUser); err != nil {
			return err
		}
		ctx := miniback.WithAuth(r.Context(), a)
		ctx = context.WithValue(ctx, sessionKeyCtx{}, sess)
		if user != nil {
			ctx = context.WithValue(ctx, userKeyCtx{}, user)
		}
		if userJSON != nil {
			ctx = context.WithValue(ctx, userJSONKeyCtx{}, userJSON)
		}
		return h(w, r.WithContext(ctx))
	}
}

// authenticate checks the bearer access token of r for appid and that its
// session is live; failures are unauthorized Errors. The user is returned
// when the store read it with the session (else nil), and its JSON answer
// when the revocation cache rendered it (else nil).
func (s *Server) authenticate(r *http.Request, appid string) (*miniback.Auth, *miniback.Session, *miniback.User, []byte, error) {
	token, ok := bearer(r)
	if !ok {
		return nil, nil, nil, nil, miniback.Errorf(miniback.ECodeUnauthorized, "an Authorization: Bearer access token is required")
	}
	a, err := s.Tokens.Verify(appid, token)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	sess, user, userJSON, err := s.session(r.Context(), a.UserID, a.SessionID)
	if miniback.IsNotFound(err) {
		return nil, nil, nil, nil, miniback.Errorf(miniback.ECodeUnauthorized, "the session of this token no longer exists")
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if sess.Revoked() || sess.AppID != appid || sess.UserID != a.UserID || !s.Now().Before(sess.ExpiresAt) {
		return nil, nil, nil, nil, miniback.Errorf(miniback.ECodeUnauthorized, "the session of this token has ended; log in again")
	}
	return a, sess, user, userJSON, nil
}

// session reads the session id of the token of userID, with its user when
// the store can do both in one query (else the user is nil), through the
// per-instance cache when there is one (session.Live), which also gives
// the user's JSON answer.
func (s *Server) session(ctx context.Context, userID int64, id string) (*miniback.Session, *miniback.User, []byte, error) {
	if s.live != nil {
		a, err := s.live.CachedSessionUser(ctx, userID, id)
		return a.Session, a.User, a.UserJSON, err
	}
	if sr, ok := s.Sessions.(miniback.SessionReader); ok {
		sess, user, err := sr.SessionUser(ctx, id)
		return sess, user, nil, err
	}
	sess, err := s.Sessions.Session(ctx, id)
	return sess, nil, nil, err
}

// userOf returns the user authed read with the session in the same query,
// or nil when the store could not.
func userOf(ctx context.Context) *miniback.User {
	u, _ := ctx.Value(userKeyCtx{}).(*miniback.User)
	return u
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != "" && len(token) <= 4096
}

// sessionOf returns the live session loaded by authed.
func sessionOf(ctx context.Context) *miniback.Session {
	sess, _ := ctx.Value(sessionKeyCtx{}).(*miniback.Session)
	return sess
}

// userJSONOf returns the JSON answer of the user authed read, when the
// cache had it rendered.
func userJSONOf(ctx context.Context) []byte {
	b, _ := ctx.Value(userJSONKeyCtx{}).([]byte)
	return b
}
