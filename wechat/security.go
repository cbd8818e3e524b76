package wechat

import (
	"context"

	"github.com/miniback/miniback/internal/flex"
)

// Scenes of a content check.
const (
	SceneProfile = 1
	SceneComment = 2
	SceneForum   = 3
	SceneSocial  = 4
)

// Suggestions of a content check.
const (
	SuggestPass   = "pass"
	SuggestReview = "review"
	SuggestRisky  = "risky"
)

// MsgSecCheckRequest asks whether text is acceptable (POST
// /wxa/msg_sec_check, version 2).
type MsgSecCheckRequest struct {
	// Version is 2; 0 is sent as 2.
	Version int `json:"version"`
	// OpenID is a user who visited the mini program in the last 2 hours.
	OpenID string `json:"openid"`
	// Scene is one of the Scene constants.
	Scene int `json:"scene"`
	// Content is the text, at most 2500 characters.
	Content string `json:"content"`
	// Nickname is the user's nickname, checked along with Content.
	Nickname string `json:"nickname,omitempty"`
	// Title is the text's title, checked along with Content.
	Title string `json:"title,omitempty"`
	// Signature is the user's signature; used only with SceneProfile.
	Signature string `json:"signature,omitempty"`
}

// MsgSecCheckResult is the verdict of a content check. Use Suggest, not the
// errcode, which only says the check ran.
type MsgSecCheckResult struct {
	// Suggest is "pass", "review" or "risky".
	Suggest string
	// Label is 100 for normal content, else the main category (e.g. 20001
	// politics, 20002 porn, 10001 ad).
	Label int
	// TraceID identifies the check.
	TraceID string
	// Detail lists each strategy's finding.
	Detail []MsgSecCheckDetail
}

// MsgSecCheckDetail is one strategy's finding.
type MsgSecCheckDetail struct {
	// Strategy is e.g. "content_model" or "keyword".
	Strategy string
	// ErrCode is 0 when the strategy ran.
	ErrCode int
	// Suggest is the strategy's "pass", "review" or "risky".
	Suggest string
	// Label is the strategy's category.
	Label int
	// Prob is the model's confidence, 0 to 100.
	Prob int
	// Keyword is the word that matched, for the keyword strategy.
	Keyword string
}

type secCheckAnswer struct {
	TraceID string `json:"trace_id"`
	Result  struct {
		Suggest string   `json:"suggest"`
		Label   flex.Int `json:"label"`
	} `json:"result"`
	Detail []struct {
		Strategy string   `json:"strategy"`
		ErrCode  flex.Int `json:"errcode"`
		Suggest  string   `json:"suggest"`
		Label    flex.Int `json:"label"`
		Prob     flex.Int `json:"prob"`
		Keyword  string   `json:"keyword"`
	} `json:"detail"`
}

// MsgSecCheck checks text. It fails with *Error, e.g. 40003 for a bad
// openid, 43104 for an openid of another app or 40129 for a bad scene;
// label may arrive as a number or a string.
func (c *Client) MsgSecCheck(ctx context.Context, req *MsgSecCheckRequest) (*MsgSecCheckResult, error) {
	body := *req
	if body.Version == 0 {
		body.Version = 2
	}
	r, err := newJSONRequest("/wxa/msg_sec_check", &body)
	if err != nil {
		return nil, err
	}
	var ans secCheckAnswer
	if err := c.callJSON(ctx, r, &ans); err != nil {
		return nil, err
	}
	if ans.Result.Suggest == "" {
		return nil, errUnexpected(r.path, "no result.suggest")
	}
	res := &MsgSecCheckResult{Suggest: ans.Result.Suggest, Label: int(ans.Result.Label), TraceID: ans.TraceID}
	for _, d := range ans.Detail {
		res.Detail = append(res.Detail, MsgSecCheckDetail{Strategy: d.Strategy, ErrCode: int(d.ErrCode),
			Suggest: d.Suggest, Label: int(d.Label), Prob: int(d.Prob), Keyword: d.Keyword})
	}
	return res, nil
}

// Media types of an asynchronous media check.
const (
	MediaTypeAudio = 1
	MediaTypeImage = 2
)

// MediaCheckRequest asks for an asynchronous check of an image or audio
// file at a public URL (POST /wxa/media_check_async, version 2).
type MediaCheckRequest struct {
	// MediaURL is downloadable by WeChat; files up to 10 MB.
	MediaURL string `json:"media_url"`
	// MediaType is MediaTypeImage or MediaTypeAudio.
	MediaType int `json:"media_type"`
	// Version is 2; 0 is sent as 2.
	Version int `json:"version"`
	// Scene is one of the Scene constants.
	Scene int `json:"scene"`
	// OpenID is a user who visited the mini program in the last 2 hours.
	OpenID string `json:"openid"`
}

// MediaCheckAsync starts a media check and returns its trace_id; the verdict
// arrives within 30 minutes as a wxa_media_check push with the same
// trace_id. It fails with *Error from WeChat.
func (c *Client) MediaCheckAsync(ctx context.Context, req *MediaCheckRequest) (string, error) {
	body := *req
	if body.Version == 0 {
		body.Version = 2
	}
	r, err := newJSONRequest("/wxa/media_check_async", &body)
	if err != nil {
		return "", err
	}
	var ans struct {
		TraceID string `json:"trace_id"`
	}
	if err := c.callJSON(ctx, r, &ans); err != nil {
		return "", err
	}
	if ans.TraceID == "" {
		return "", errUnexpected(r.path, "no trace_id")
	}
	return ans.TraceID, nil
}
