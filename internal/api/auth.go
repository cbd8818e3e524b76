package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/miniback/miniback"
)

type sessionKeyCtx struct{}

// authed wraps h so that it runs only with a valid access token for the
// path's appid whose session is live. The signature check may be served
// from the Issuer's cache; the revocation check reads the session store
// every time, so a logout is effective at once on every instance.
func (s *Server) authed(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, sess, err := s.authenticate(r, r.PathValue("appid"))
		if err != nil {
			return err
		}
		if err := s.limit(w, r, "user", a.AppID+":"+strconv.FormatInt(a.UserID, 10), s.Limits.APIPerUser); err != nil {
			return err
		}
		ctx := miniback.WithAuth(r.Context(), a)
		ctx = context.WithValue(ctx, sessionKeyCtx{}, sess)
		return h(w, r.WithContext(ctx))
	}
}

// authenticate checks the bearer access token of r for appid and that its
// session is live; failures are unauthorized Errors.
func (s *Server) authenticate(r *http.Request, appid string) (*miniback.Auth, *miniback.Session, error) {
	token, ok := bearer(r)
	if !ok {
		return nil, nil, miniback.Errorf(miniback.ECodeUnauthorized, "an Authorization: Bearer access token is required")
	}
	a, err := s.Tokens.Verify(appid, token)
	if err != nil {
		return nil, nil, err
	}
	sess, err := s.Sessions.Session(r.Context(), a.SessionID)
	if miniback.IsNotFound(err) {
		return nil, nil, miniback.Errorf(miniback.ECodeUnauthorized, "the session of this token no longer exists")
	}
	if err != nil {
		return nil, nil, err
	}
	if sess.Revoked() || sess.AppID != appid || sess.UserID != a.UserID || !s.Now().Before(sess.ExpiresAt) {
		return nil, nil, miniback.Errorf(miniback.ECodeUnauthorized, "the session of this token has ended; log in again")
	}
	return a, sess, nil
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
