package api

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miniback/miniback"
)

// The admin routes the console reads and acts through (SPEC §7.9). They are
// ordinary admin API routes: any team service may call them with a key.

// idPattern bounds the ids miniback hands out (sessions, messages) before
// they reach a query.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// msgTypePattern bounds a push msg_type filter.
var msgTypePattern = regexp.MustCompile(`^[A-Za-z_]{1,32}$`)

func (s *Server) consoleAdminRoutes() {
	a := "/admin/v1/{appid}"
	s.handle("GET /admin/v1/apps", s.admin(s.handleApps))
	s.handle("GET "+a+"/users/{id}/sessions", s.admin(s.handleUserSessions))
	s.handle("DELETE "+a+"/sessions/{sid}", s.admin(s.handleRevokeSession))
	s.handle("GET "+a+"/stats", s.admin(s.handleStats))
	s.handle("GET "+a+"/messages", s.admin(s.handleMessages))
}

// appView is a configured app as the admin API shows it: never a secret.
type appView struct {
	AppID     string `json:"appid"`
	MsgFormat string `json:"msg_format"`
	PushMode  string `json:"push_mode"` // the app's push_mode: plain, compat or safe
}

func (s *Server) handleApps(w http.ResponseWriter, r *http.Request) error {
	apps := []appView{}
	for _, a := range s.Apps {
		apps = append(apps, appView{AppID: a.AppID, MsgFormat: a.MsgFormat, PushMode: a.PushMode})
	}
	slices.SortFunc(apps, func(a, b appView) int { return strings.Compare(a.AppID, b.AppID) })
	writeJSON(w, http.StatusOK, map[string]any{"apps": apps})
	return nil
}

// sessionView is a session as the admin API shows it: never its sealed key.
type sessionView struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"` // live, revoked or expired
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// userOf returns the user named by the path's {id} in the path's app; a
// malformed id or another app's user is not found.
func (s *Server) userOf(r *http.Request) (*miniback.User, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, miniback.Errorf(miniback.ECodeNotFound, "user not found")
	}
	return s.Users.User(r.Context(), r.PathValue("appid"), id)
}

func (s *Server) handleUserSessions(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOf(r)
	if err != nil {
		return err
	}
	list, err := s.Sessions.UserSessions(r.Context(), u.AppID, u.ID, 100)
	if err != nil {
		return err
	}
	now := s.Now()
	out := make([]sessionView, 0, len(list))
	for _, sess := range list {
		v := sessionView{ID: sess.ID, Status: "live", CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt, RevokedAt: sess.RevokedAt}
		switch {
		case sess.Revoked():
			v.Status = "revoked"
		case !now.Before(sess.ExpiresAt):
			v.Status = "expired"
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

// handleRevokeSession ends a session at once: its access tokens stop
// working on every instance and its refresh token is refused.
func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request) error {
	sid := r.PathValue("sid")
	notFound := miniback.Errorf(miniback.ECodeNotFound, "session not found")
	if !idPattern.MatchString(sid) {
		return notFound
	}
	sess, err := s.Sessions.Session(r.Context(), sid)
	if miniback.IsNotFound(err) {
		return notFound
	}
	if err != nil {
		return err
	}
	if sess.AppID != r.PathValue("appid") {
		return notFound
	}
	if err := s.Sessions.RevokeSession(r.Context(), sid, s.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// statsAnswer is the console overview of one app.
type statsAnswer struct {
	AppID string    `json:"appid"`
	Since time.Time `json:"since"`
	*miniback.Stats
	Token tokenState        `json:"token"`
	Ready map[string]string `json:"ready"`
}

type tokenState struct {
	Cached bool `json:"cached"`
}

// handleStats answers the counts since ?since= (RFC 3339; default the start
// of the current UTC day), whether a WeChat access token is cached, and the
// readiness checks.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) error {
	appid := r.PathValue("appid")
	now := s.Now().UTC()
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return miniback.Errorf(miniback.ECodeInvalidRequest, "since must be an RFC 3339 time")
		}
		since = t
	}
	st, err := s.Stats.Stats(r.Context(), appid, since)
	if err != nil {
		return err
	}
	out := statsAnswer{AppID: appid, Since: since, Stats: st, Ready: s.readiness(r.Context())}
	if c := s.WeChat[appid]; c != nil {
		if out.Token.Cached, err = c.TokenCached(r.Context()); err != nil {
			return miniback.WrapError(miniback.ECodeUnavailable, "the state store is unreachable", err)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// readiness runs the /readyz checks: "ok" or "unreachable" by name.
func (s *Server) readiness(ctx context.Context) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	for _, c := range s.Ready {
		checks[c.Name] = "ok"
		if err := c.Func(ctx); err != nil {
			checks[c.Name] = "unreachable"
		}
	}
	return checks
}

// messagePage is a page of outbound messages, newest first.
type messagePage struct {
	Messages   []*miniback.Message `json:"messages"`
	NextCursor string              `json:"next_cursor,omitempty"`
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	mq := miniback.MessageQuery{Status: q.Get("status"), Before: q.Get("cursor"), Limit: limit + 1}
	switch mq.Status {
	case "", miniback.MessageQueued, miniback.MessageSending, miniback.MessageSent, miniback.MessageFailed:
	default:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "status must be queued, sending, sent or failed")
	}
	if mq.Before != "" && !idPattern.MatchString(mq.Before) {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "cursor is not one this API gave out")
	}
	msgs, err := s.Messages.Messages(r.Context(), r.PathValue("appid"), mq)
	if err != nil {
		return err
	}
	out := messagePage{Messages: msgs}
	if len(msgs) > limit {
		out.Messages = msgs[:limit]
		out.NextCursor = msgs[limit-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
