package api

import (
	"context"
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechat"
)

// passThrough reads a JSON object of WeChat's parameters for a link call.
func passThrough(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := decodeJSON(w, r, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "the body must be a JSON object of WeChat's parameters")
	}
	return wechat.Marshal(obj)
}

// linkCall answers {field: link} from one of the wechat link methods.
func (s *Server) linkCall(w http.ResponseWriter, r *http.Request, field string, call func(*wechat.Client, context.Context, any) (string, error)) error {
	params, err := passThrough(w, r)
	if err != nil {
		return err
	}
	link, err := call(s.WeChat[r.PathValue("appid")], r.Context(), params)
	if err != nil {
		return fromWeChat(r.Context(), err)
	}
	writeJSON(w, http.StatusOK, map[string]string{field: link})
	return nil
}

func (s *Server) handleURLLink(w http.ResponseWriter, r *http.Request) error {
	return s.linkCall(w, r, "url", (*wechat.Client).GenerateURLLink)
}

func (s *Server) handleURLScheme(w http.ResponseWriter, r *http.Request) error {
	return s.linkCall(w, r, "openlink", (*wechat.Client).GenerateScheme)
}

func (s *Server) handleShortLink(w http.ResponseWriter, r *http.Request) error {
	return s.linkCall(w, r, "link", (*wechat.Client).GenerateShortLink)
}

type msgCheckRequest struct {
	OpenID  string `json:"openid"`
	Content string `json:"content"`
	Scene   int    `json:"scene"`
}

// handleMsgCheck runs msg_sec_check v2 and answers its verdict.
func (s *Server) handleMsgCheck(w http.ResponseWriter, r *http.Request) error {
	var req msgCheckRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.OpenID == "" || len(req.OpenID) > 128:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "openid is required")
	case req.Content == "" || utf8.RuneCountInString(req.Content) > 2500:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "content must be 1 to 2500 characters")
	case req.Scene < 1 || req.Scene > 4:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "scene must be 1 (profile), 2 (comment), 3 (forum) or 4 (social log)")
	}
	res, err := s.WeChat[r.PathValue("appid")].MsgSecCheck(r.Context(), &wechat.MsgSecCheckRequest{Version: 2, OpenID: req.OpenID, Scene: req.Scene, Content: req.Content})
	if err != nil {
		return fromWeChat(r.Context(), err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"suggest": res.Suggest, "label": res.Label, "trace_id": res.TraceID})
	return nil
}

type mediaCheckRequest struct {
	MediaURL  string `json:"media_url"`
	MediaType int    `json:"media_type"`
	OpenID    string `json:"openid"`
	Scene     int    `json:"scene"`
}

// handleMediaCheck starts media_check_async and keeps its trace_id, so the
// wxa_media_check push can fill in the verdict.
func (s *Server) handleMediaCheck(w http.ResponseWriter, r *http.Request) error {
	var req mediaCheckRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	switch {
	case !httpURL(req.MediaURL):
		return miniback.Errorf(miniback.ECodeInvalidRequest, "media_url must be an http(s) URL")
	case req.MediaType != wechat.MediaTypeImage && req.MediaType != wechat.MediaTypeAudio:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "media_type must be 1 (audio) or 2 (image)")
	case req.OpenID == "" || len(req.OpenID) > 128:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "openid is required")
	case req.Scene < 1 || req.Scene > 4:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "scene must be 1 to 4")
	}
	appid := r.PathValue("appid")
	trace, err := s.WeChat[appid].MediaCheckAsync(r.Context(), &wechat.MediaCheckRequest{MediaURL: req.MediaURL, MediaType: req.MediaType, Version: 2, Scene: req.Scene, OpenID: req.OpenID})
	if err != nil {
		return fromWeChat(r.Context(), err)
	}
	c := &miniback.MediaCheck{TraceID: trace, AppID: appid, MediaURL: req.MediaURL, MediaType: req.MediaType, OpenID: req.OpenID,
		Status: "pending", CreatedAt: s.Now()}
	if err := s.Media.AddMediaCheck(r.Context(), c); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, c)
	return nil
}

func (s *Server) handleGetMediaCheck(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Media.MediaCheck(r.Context(), r.PathValue("appid"), r.PathValue("trace_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}
