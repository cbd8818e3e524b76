package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// newTraceID returns an id shaped like WeChat's "60ae120f-371d5872-7941a05b".
func newTraceID() string { return newRID() }

// checkDetail is one strategy's verdict in detail[].
type checkDetail struct {
	Strategy string `json:"strategy"`
	ErrCode  int    `json:"errcode"`
	Suggest  string `json:"suggest"`
	Label    int    `json:"label"`
	Prob     int    `json:"prob,omitempty"`
	Keyword  string `json:"keyword,omitempty"`
	Level    int    `json:"level,omitempty"`
}

type msgSecCheckRequest struct {
	Version   int    `json:"version"`
	OpenID    string `json:"openid"`
	Scene     int    `json:"scene"`
	Content   string `json:"content"`
	Nickname  string `json:"nickname"`
	Title     string `json:"title"`
	Signature string `json:"signature"`
}

// checkSecRequest applies the checks msg_sec_check and media_check_async
// share: version 2 (else 47001), scene 1–4 (40129), a known openid (40003).
func checkSecRequest(a *appState, version, scene int, openid string) error {
	if version != 2 {
		return wxErr(47001, "data format error")
	}
	if scene < 1 || scene > 4 {
		return wxErr(40129, "invalid scene")
	}
	if _, ok := a.users[openid]; !ok {
		return wxErr(40003, "invalid openid")
	}
	return nil
}

// handleMsgSecCheck serves POST /wxa/msg_sec_check (v2). Text containing
// one of Config.RiskyWords is risky with label 20006; anything else passes
// with label 100. Content over 2500 characters is 45002; empty is 44002.
func (s *Server) handleMsgSecCheck(w http.ResponseWriter, r *http.Request, a *appState) error {
	var req msgSecCheckRequest
	if err := decodeWX(r, &req); err != nil {
		return err
	}
	if err := checkSecRequest(a, req.Version, req.Scene, req.OpenID); err != nil {
		return err
	}
	if req.Content == "" {
		return wxErr(44002, "empty post data")
	}
	if utf8.RuneCountInString(req.Content) > 2500 {
		return wxErr(45002, "content size out of limit")
	}
	text := strings.Join([]string{req.Content, req.Nickname, req.Title, req.Signature}, "\n")
	suggest, label := "pass", 100
	details := []checkDetail{{Strategy: "content_model", Suggest: "pass", Label: 100, Prob: 90}}
	if word := s.riskyWord(text); word != "" {
		suggest, label = "risky", 20006
		details = []checkDetail{
			{Strategy: "content_model", Suggest: "risky", Label: 20006, Prob: 90},
			{Strategy: "keyword", Suggest: "risky", Label: 20006, Keyword: word, Level: 20},
		}
	}
	writeOK(w, map[string]any{
		"result":   map[string]any{"suggest": suggest, "label": label},
		"detail":   details,
		"trace_id": newTraceID(),
	})
	return nil
}

func (s *Server) riskyWord(text string) string {
	lower := strings.ToLower(text)
	for _, w := range s.cfg.RiskyWords {
		if w != "" && strings.Contains(lower, strings.ToLower(w)) {
			return w
		}
	}
	return ""
}

type mediaCheckRequest struct {
	MediaURL  string `json:"media_url"`
	MediaType int    `json:"media_type"`
	Version   int    `json:"version"`
	Scene     int    `json:"scene"`
	OpenID    string `json:"openid"`
}

// mediaCheckEvent is the wxa_media_check v2 push, field order as WeChat's.
// label is a string in real JSON pushes.
type mediaCheckEvent struct {
	ToUserName   string `json:"ToUserName"`
	FromUserName string `json:"FromUserName"`
	CreateTime   int64  `json:"CreateTime"`
	MsgType      string `json:"MsgType"`
	Event        string `json:"Event"`
	AppID        string `json:"appid"`
	TraceID      string `json:"trace_id"`
	Version      int    `json:"version"`
	Result       struct {
		Suggest string `json:"suggest"`
		Label   string `json:"label"`
	} `json:"result"`
	Detail []mediaCheckDetail `json:"detail"`
}

type mediaCheckDetail struct {
	Strategy string `json:"strategy"`
	ErrCode  int    `json:"errcode"`
	Suggest  string `json:"suggest"`
	Label    string `json:"label"`
	Prob     int    `json:"prob"`
}

// handleMediaCheckAsync serves POST /wxa/media_check_async (v2). It
// answers a trace_id at once and then, in the background, pushes a
// wxa_media_check event to the app's PushURL (in the app's PushMode): risky
// (label 20002) when media_url contains "risky", pass (100) otherwise.
func (s *Server) handleMediaCheckAsync(w http.ResponseWriter, r *http.Request, a *appState) error {
	var req mediaCheckRequest
	if err := decodeWX(r, &req); err != nil {
		return err
	}
	if err := checkSecRequest(a, req.Version, req.Scene, req.OpenID); err != nil {
		return err
	}
	u, err := url.Parse(req.MediaURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return wxErr(47001, "data format error")
	}
	if req.MediaType != 1 && req.MediaType != 2 {
		return wxErr(47001, "data format error")
	}
	trace := newTraceID()
	if a.PushURL != "" {
		ev := s.mediaCheckEvent(a, req, trace)
		s.background(func(ctx context.Context) { s.pushEvent(ctx, a.AppID, ev) })
	}
	writeOK(w, map[string]any{"trace_id": trace})
	return nil
}

func (s *Server) mediaCheckEvent(a *appState, req mediaCheckRequest, trace string) mediaCheckEvent {
	ev := mediaCheckEvent{
		ToUserName: OriginalID(a.AppID), FromUserName: req.OpenID, CreateTime: s.now().Unix(),
		MsgType: "event", Event: "wxa_media_check", AppID: a.AppID, TraceID: trace, Version: 2,
	}
	suggest, label := "pass", "100"
	if strings.Contains(req.MediaURL, "risky") {
		suggest, label = "risky", "20002"
	}
	ev.Result.Suggest, ev.Result.Label = suggest, label
	ev.Detail = []mediaCheckDetail{{Strategy: "content_model", Suggest: suggest, Label: label, Prob: 90}}
	return ev
}

// pushEvent sends a platform-made event, logging (it has no caller to
// return to) when the backend cannot be reached or does not answer 200.
func (s *Server) pushEvent(ctx context.Context, appid string, ev any) {
	msg, err := json.Marshal(ev)
	if err == nil {
		var status int
		status, _, err = s.Push(ctx, PushRequest{AppID: appid, Message: msg})
		if err == nil && status != http.StatusOK {
			s.log.Warn("sandbox: push answered non-200", "appid", appid, "status", status)
		}
	}
	if err != nil {
		s.log.Warn("sandbox: push failed", "appid", appid, "err", err)
	}
}

// background runs f in a goroutine that Close cancels and waits for.
func (s *Server) background(f func(ctx context.Context)) {
	if s.bg.Err() != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.bg, 30*time.Second)
		defer cancel()
		f(ctx)
	}()
}

// Close cancels background pushes and waits for them to end. The Server
// keeps serving requests, but makes no more background pushes that outlive
// them.
func (s *Server) Close() {
	s.stop()
	s.wg.Wait()
}
