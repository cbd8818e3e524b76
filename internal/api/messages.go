package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"unicode/utf8"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechat"
)

type subscribeRequest struct {
	UserID           int64                      `json:"user_id"`
	OpenID           string                     `json:"openid"`
	TemplateID       string                     `json:"template_id"`
	Page             string                     `json:"page"`
	Data             map[string]json.RawMessage `json:"data"`
	MiniprogramState string                     `json:"miniprogram_state"`
	Lang             string                     `json:"lang"`
}

var (
	keywordPattern    = regexp.MustCompile(`^[a-z_]+[0-9]+$`)
	templateIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	validStates       = map[string]bool{"": true, "developer": true, "trial": true, "formal": true}
	validLangs        = map[string]bool{"": true, "zh_CN": true, "en_US": true, "zh_HK": true, "zh_TW": true}
)

// handleSendSubscribe validates a subscribe message's shape here (so a
// malformed one never enters the queue) and queues it.
func (s *Server) handleSendSubscribe(w http.ResponseWriter, r *http.Request) error {
	var req subscribeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	openid, err := s.recipient(r.Context(), r.PathValue("appid"), req.UserID, req.OpenID)
	if err != nil {
		return err
	}
	p := wechat.SubscribeMessage{ToUser: openid, TemplateID: req.TemplateID, Page: req.Page,
		MiniprogramState: req.MiniprogramState, Lang: req.Lang, Data: map[string]wechat.SubscribeValue{}}
	switch {
	case !templateIDPattern.MatchString(req.TemplateID):
		return miniback.Errorf(miniback.ECodeInvalidRequest, "template_id is required")
	case len(req.Page) > 1024:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "page is longer than 1024 characters")
	case !validStates[req.MiniprogramState]:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "miniprogram_state must be developer, trial or formal")
	case !validLangs[req.Lang]:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "lang must be zh_CN, en_US, zh_HK or zh_TW")
	case len(req.Data) == 0 || len(req.Data) > 20:
		return miniback.Errorf(miniback.ECodeInvalidRequest, `data must map 1 to 20 keywords to {"value": "…"}`)
	}
	for k, raw := range req.Data {
		if !keywordPattern.MatchString(k) {
			return miniback.Errorf(miniback.ECodeInvalidRequest, "data key %q is not a template keyword such as thing1", k)
		}
		var kw struct {
			Value *string `json:"value"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&kw); err != nil || kw.Value == nil {
			return miniback.Errorf(miniback.ECodeInvalidRequest, `data.%s must be {"value": "<string>"}`, k)
		}
		if utf8.RuneCountInString(*kw.Value) > 200 {
			return miniback.Errorf(miniback.ECodeInvalidRequest, "data.%s.value is too long", k)
		}
		p.Data[k] = wechat.SubscribeValue{Value: *kw.Value}
	}
	return s.enqueue(w, r, miniback.KindSubscribe, openid, p)
}

// customerRequest is a customer-service message: the WeChat fields, with
// the recipient as user_id or openid.
type customerRequest struct {
	UserID          int64                          `json:"user_id"`
	OpenID          string                         `json:"openid"`
	MsgType         string                         `json:"msgtype"`
	Text            *wechat.TextContent            `json:"text,omitempty"`
	Image           *wechat.ImageContent           `json:"image,omitempty"`
	Link            *wechat.LinkContent            `json:"link,omitempty"`
	MiniProgramPage *wechat.MiniProgramPageContent `json:"miniprogrampage,omitempty"`
}

var mediaIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

func (s *Server) handleSendCustomer(w http.ResponseWriter, r *http.Request) error {
	var req customerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	openid, err := s.recipient(r.Context(), r.PathValue("appid"), req.UserID, req.OpenID)
	if err != nil {
		return err
	}
	if err := validCustomer(&req); err != nil {
		return err
	}
	p := wechat.CustomMessage{ToUser: openid, MsgType: req.MsgType, Text: req.Text, Image: req.Image, Link: req.Link, MiniProgramPage: req.MiniProgramPage}
	return s.enqueue(w, r, miniback.KindCustomer, openid, p)
}

// validCustomer checks that exactly the object named by msgtype is given
// with its required fields.
func validCustomer(req *customerRequest) error {
	given := 0
	for _, present := range []bool{req.Text != nil, req.Image != nil, req.Link != nil, req.MiniProgramPage != nil} {
		if present {
			given++
		}
	}
	bad := func(msg string) error { return miniback.Errorf(miniback.ECodeInvalidRequest, "%s", msg) }
	if given != 1 {
		return bad(`give exactly one of text, image, link, miniprogrampage, matching msgtype`)
	}
	switch req.MsgType {
	case "text":
		if req.Text == nil || req.Text.Content == "" || utf8.RuneCountInString(req.Text.Content) > 2048 {
			return bad(`msgtype text needs text.content of 1 to 2048 characters`)
		}
	case "image":
		if req.Image == nil || !mediaIDPattern.MatchString(req.Image.MediaID) {
			return bad(`msgtype image needs image.media_id`)
		}
	case "link":
		if req.Link == nil || req.Link.Title == "" || !httpURL(req.Link.URL) || (req.Link.ThumbURL != "" && !httpURL(req.Link.ThumbURL)) {
			return bad(`msgtype link needs link.title and an http(s) link.url`)
		}
	case "miniprogrampage":
		mp := req.MiniProgramPage
		if mp == nil || mp.Title == "" || mp.PagePath == "" || !mediaIDPattern.MatchString(mp.ThumbMediaID) {
			return bad(`msgtype miniprogrampage needs title, pagepath and thumb_media_id`)
		}
	default:
		return bad(`msgtype must be text, image, link or miniprogrampage`)
	}
	return nil
}

func httpURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(raw) <= 2048
}
