package sandbox

import (
	"encoding/binary"
	"encoding/json"
	"net/http"
	"time"
)

// SentMessage is a customer-service or subscribe message the backend sent,
// as GET /sandbox/sent lists it. Body is the request body as received.
// MsgID is a 64-bit id above 2^53 (decode it as int64, never float64).
type SentMessage struct {
	Kind   string          `json:"kind"` // "customer" or "subscribe"
	OpenID string          `json:"openid"`
	Body   json.RawMessage `json:"body"`
	MsgID  int64           `json:"msgid"`
	SentAt time.Time       `json:"sent_at"`
	appID  string
}

// Sent returns the messages sent to openid of appid (every user of the app
// when openid is ""), oldest first. It is safe for concurrent use.
func (s *Server) Sent(appid, openid string) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []SentMessage{}
	for _, m := range s.sent {
		if m.appID == appid && (openid == "" || m.OpenID == openid) {
			out = append(out, m)
		}
	}
	return out
}

// record stores a sent message and returns its msgid. The caller holds s.mu.
func (s *Server) record(a *appState, kind, openid string, body []byte) int64 {
	// Real msgids are ~1.9e18; keep bit 60 set so they always exceed 2^53.
	id := int64(binary.BigEndian.Uint64(randBytes(8))>>4) | 1<<60
	s.sent = append(s.sent, SentMessage{Kind: kind, OpenID: openid, Body: append(json.RawMessage(nil), body...), MsgID: id, SentAt: s.now(), appID: a.AppID})
	s.trimSent()
	return id
}

type customMessage struct {
	ToUser  string `json:"touser"`
	MsgType string `json:"msgtype"`
	Text    *struct {
		Content string `json:"content"`
	} `json:"text"`
	Image *struct {
		MediaID string `json:"media_id"`
	} `json:"image"`
	Link *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		URL         string `json:"url"`
		ThumbURL    string `json:"thumb_url"`
	} `json:"link"`
	MiniProgramPage *struct {
		Title        string `json:"title"`
		PagePath     string `json:"pagepath"`
		ThumbMediaID string `json:"thumb_media_id"`
	} `json:"miniprogrampage"`
}

// handleCustomSend serves POST /cgi-bin/message/custom/send. The 48-hour
// window (45015) and send count (45047) are not modelled; inject them as
// faults.
func (s *Server) handleCustomSend(w http.ResponseWriter, r *http.Request, a *appState) error {
	body, err := readWXBody(r)
	if err != nil {
		return err
	}
	var m customMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return wxErr(47001, "data format error")
	}
	if _, ok := a.users[m.ToUser]; !ok {
		return wxErr(40003, "invalid openid")
	}
	if err := s.validateCustom(a, &m); err != nil {
		return err
	}
	s.record(a, "customer", m.ToUser, body)
	writeOK(w, nil)
	return nil
}

func (s *Server) validateCustom(a *appState, m *customMessage) error {
	errFormat := wxErr(47001, "data format error")
	switch m.MsgType {
	case "text":
		if m.Text == nil || m.Text.Content == "" {
			return errFormat
		}
	case "image":
		if m.Image == nil || m.Image.MediaID == "" {
			return errFormat
		}
		return s.checkMedia(a, m.Image.MediaID)
	case "link":
		if m.Link == nil || m.Link.Title == "" || m.Link.URL == "" {
			return errFormat
		}
	case "miniprogrampage":
		p := m.MiniProgramPage
		if p == nil || p.Title == "" || p.PagePath == "" || p.ThumbMediaID == "" {
			return errFormat
		}
		return s.checkMedia(a, p.ThumbMediaID)
	default:
		return wxErr(40008, "invalid message type")
	}
	return nil
}

type subscribeMessage struct {
	ToUser           string                     `json:"touser"`
	TemplateID       string                     `json:"template_id"`
	Page             string                     `json:"page"`
	MiniProgramState string                     `json:"miniprogram_state"`
	Lang             string                     `json:"lang"`
	Data             map[string]json.RawMessage `json:"data"`
}

// handleSubscribeSend serves POST /cgi-bin/message/subscribe/send.
func (s *Server) handleSubscribeSend(w http.ResponseWriter, r *http.Request, a *appState) error {
	body, err := readWXBody(r)
	if err != nil {
		return err
	}
	var m subscribeMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return wxErr(47001, "data format error")
	}
	if err := s.validateSubscribe(a, &m); err != nil {
		return err
	}
	id := s.record(a, "subscribe", m.ToUser, body)
	writeOK(w, map[string]any{"msgid": id})
	return nil
}

func (s *Server) validateSubscribe(a *appState, m *subscribeMessage) error {
	if _, ok := a.users[m.ToUser]; !ok {
		return wxErr(40003, "invalid openid")
	}
	keywords, ok := a.Templates[m.TemplateID]
	if !ok {
		return wxErr(40037, "invalid template_id")
	}
	switch m.MiniProgramState {
	case "", "developer", "trial", "formal":
	default:
		return wxErr(47003, "argument invalid! miniprogram_state invalid")
	}
	switch m.Lang {
	case "", "zh_CN", "en_US", "zh_HK", "zh_TW":
	default:
		return wxErr(47003, "argument invalid! lang invalid")
	}
	if err := validateTemplateData(keywords, m.Data); err != nil {
		return err
	}
	// Only the released version is known to the platform; developer and
	// trial builds may link to pages it has not seen.
	if m.Page != "" && (m.MiniProgramState == "" || m.MiniProgramState == "formal") && !a.hasPage(pathOnly(m.Page)) {
		return wxErr(41030, "invalid page")
	}
	if accepted, set := a.subscriptions[subKey(m.ToUser, m.TemplateID)]; set && !accepted {
		return wxErr(43101, "user refuse to accept the msg")
	}
	return nil
}

func subKey(openid, templateID string) string { return openid + "\x00" + templateID }

// SetSubscription records whether user openid of appid accepts (the
// default) or rejected template templateID. It fails for an unknown app
// or template. It is safe for concurrent use.
func (s *Server) SetSubscription(appid, openid, templateID string, accept bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appForControl(appid)
	if err != nil {
		return err
	}
	if _, ok := a.Templates[templateID]; !ok {
		return ctlErr(http.StatusNotFound, "unknown template_id %q", templateID)
	}
	if openid == "" {
		return ctlErr(http.StatusBadRequest, "openid is required")
	}
	a.ensureUser(openid)
	a.subscriptions[subKey(openid, templateID)] = accept
	return nil
}

// SubscriptionRequest is what POST /sandbox/subscriptions takes.
type SubscriptionRequest struct {
	AppID      string `json:"appid"`
	OpenID     string `json:"openid"`
	TemplateID string `json:"template_id"`
	Status     string `json:"status"` // "accept" or "reject"
}

func (s *Server) handleControlSubscriptions(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost); err != nil {
		return err
	}
	var req SubscriptionRequest
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	if req.Status != "accept" && req.Status != "reject" {
		return ctlErr(http.StatusBadRequest, `status must be "accept" or "reject"`)
	}
	if err := s.SetSubscription(req.AppID, req.OpenID, req.TemplateID, req.Status == "accept"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (s *Server) handleControlSent(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodGet); err != nil {
		return err
	}
	q := r.URL.Query()
	s.mu.Lock()
	_, err := s.appForControl(q.Get("appid"))
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": s.Sent(q.Get("appid"), q.Get("openid"))})
	return nil
}
