package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechat"
)

// Outbox queues outbound messages durably (internal/outbox).
type Outbox interface {
	// Enqueue stores m as queued and hands it to the senders.
	Enqueue(ctx context.Context, m *miniback.Message) error
}

func (s *Server) adminRoutes() {
	a := "/admin/v1/{appid}"
	s.handle("POST "+a+"/messages/subscribe", s.admin(s.handleSendSubscribe))
	s.handle("POST "+a+"/messages/customer", s.admin(s.handleSendCustomer))
	s.handle("GET "+a+"/messages/{id}", s.admin(s.handleGetMessage))
	s.handle("POST "+a+"/urllink", s.admin(s.handleURLLink))
	s.handle("POST "+a+"/urlscheme", s.admin(s.handleURLScheme))
	s.handle("POST "+a+"/shortlink", s.admin(s.handleShortLink))
	s.handle("POST "+a+"/security/msg-check", s.admin(s.handleMsgCheck))
	s.handle("POST "+a+"/security/media-check", s.admin(s.handleMediaCheck))
	s.handle("GET "+a+"/security/media-check/{trace_id}", s.admin(s.handleGetMediaCheck))
	s.handle("GET "+a+"/users", s.admin(s.handleUsers))
	s.handle("GET "+a+"/users/{id}", s.admin(s.handleUser))
	s.handle("GET "+a+"/inbox", s.admin(s.handleInbox))
	s.consoleAdminRoutes()
}

// admin wraps h so that it runs only with one of admin.api_keys. Keys are
// compared through their SHA-256 in constant time, so neither the key nor
// its length leaks through timing.
func (s *Server) admin(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if len(s.AdminKeys) == 0 {
			return miniback.Errorf(miniback.ECodeForbidden, "the admin API is disabled: set admin.api_keys")
		}
		key, ok := bearer(r)
		if !ok {
			return miniback.Errorf(miniback.ECodeUnauthorized, "an Authorization: Bearer admin API key is required")
		}
		got := sha256.Sum256([]byte(key))
		match := 0
		for _, k := range s.AdminKeys {
			want := sha256.Sum256([]byte(k))
			match |= subtle.ConstantTimeCompare(got[:], want[:])
		}
		if match != 1 {
			return miniback.Errorf(miniback.ECodeUnauthorized, "the admin API key is not valid")
		}
		if err := s.limit(w, r, "admin_per_key", adminKeyID(key), s.Limits.AdminPerKey); err != nil {
			return err
		}
		return h(w, r)
	}
}

// recipient resolves "user_id" or "openid" (exactly one) to an openid of appid.
func (s *Server) recipient(ctx context.Context, appid string, userID int64, openid string) (string, error) {
	switch {
	case userID != 0 && openid != "":
		return "", miniback.Errorf(miniback.ECodeInvalidRequest, "give user_id or openid, not both")
	case userID != 0:
		u, err := s.Users.User(ctx, appid, userID)
		if err != nil {
			return "", err
		}
		return u.OpenID, nil
	case openid != "":
		if len(openid) > 128 {
			return "", miniback.Errorf(miniback.ECodeInvalidRequest, "openid is too long")
		}
		return openid, nil
	}
	return "", miniback.Errorf(miniback.ECodeInvalidRequest, "user_id or openid is required")
}

// enqueue stores and queues a message and answers 202 with it.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request, kind, openid string, payload any) error {
	raw, err := wechat.Marshal(payload)
	if err != nil {
		return err
	}
	m := &miniback.Message{AppID: r.PathValue("appid"), Kind: kind, OpenID: openid, Payload: raw,
		Status: miniback.MessageQueued, CreatedAt: s.Now()}
	if err := s.Outbox.Enqueue(r.Context(), m); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, m)
	return nil
}

func (s *Server) handleGetMessage(w http.ResponseWriter, r *http.Request) error {
	m, err := s.Messages.Message(r.Context(), r.PathValue("appid"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// page reads ?cursor=&limit= (limit 1–100, default 20; cursor an opaque id).
func page(r *http.Request) (cursor int64, limit int, err error) {
	if limit, err = limitOf(r); err != nil {
		return 0, 0, err
	}
	if v := r.URL.Query().Get("cursor"); v != "" {
		if cursor, err = strconv.ParseInt(v, 10, 64); err != nil || cursor < 0 {
			return 0, 0, miniback.Errorf(miniback.ECodeInvalidRequest, "cursor is not one this API gave out")
		}
	}
	return cursor, limit, nil
}

// limitOf reads ?limit= (1–100, default 20).
func limitOf(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 20, nil
	}
	limit, err := strconv.Atoi(v)
	if err != nil || limit < 1 || limit > 100 {
		return 0, miniback.Errorf(miniback.ECodeInvalidRequest, "limit must be a number from 1 to 100")
	}
	return limit, nil
}

func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Has("openid") {
		return s.handleUserByOpenID(w, r)
	}
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	users, err := s.Users.Users(r.Context(), r.PathValue("appid"), after, limit+1)
	if err != nil {
		return err
	}
	if users == nil {
		users = []*miniback.User{}
	}
	out := miniback.UserPage{Users: users}
	if len(users) > limit {
		out.Users = users[:limit]
		out.NextCursor = strconv.FormatInt(users[limit-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleUserByOpenID answers ?openid= as a page of the one user with that
// openid, or of none.
func (s *Server) handleUserByOpenID(w http.ResponseWriter, r *http.Request) error {
	openid := r.URL.Query().Get("openid")
	if openid == "" || len(openid) > 128 {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "openid must be 1 to 128 characters")
	}
	out := miniback.UserPage{Users: []*miniback.User{}}
	u, err := s.Users.UserByOpenID(r.Context(), r.PathValue("appid"), openid)
	switch {
	case err == nil:
		out.Users = append(out.Users, u)
	case !miniback.IsNotFound(err):
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return miniback.Errorf(miniback.ECodeNotFound, "user not found")
	}
	u, err := s.Users.User(r.Context(), r.PathValue("appid"), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// inboxPage is a page of received pushes, newest first.
type inboxPage struct {
	Messages   []*miniback.InboxMessage `json:"messages"`
	NextCursor string                   `json:"next_cursor,omitempty"`
}

func (s *Server) handleInbox(w http.ResponseWriter, r *http.Request) error {
	before, limit, err := page(r)
	if err != nil {
		return err
	}
	q := miniback.InboxQuery{MsgType: r.URL.Query().Get("msg_type"), Status: r.URL.Query().Get("status"), BeforeID: before, Limit: limit + 1}
	if q.MsgType != "" && !msgTypePattern.MatchString(q.MsgType) {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "msg_type must be a WeChat MsgType such as text or event")
	}
	switch q.Status {
	case "", miniback.InboxReceived, miniback.InboxHandled, miniback.InboxFailed:
	default:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "status must be received, handled or failed")
	}
	msgs, err := s.Inbox.Inbox(r.Context(), r.PathValue("appid"), q)
	if err != nil {
		return err
	}
	out := inboxPage{Messages: msgs}
	if out.Messages == nil {
		out.Messages = []*miniback.InboxMessage{}
	}
	if len(msgs) > limit {
		out.Messages = msgs[:limit]
		out.NextCursor = strconv.FormatInt(msgs[limit-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
