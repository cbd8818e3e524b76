package wechat

import (
	"context"
	"strconv"

	"github.com/miniback/miniback/internal/flex"
)

// Message types of a customer-service message.
const (
	MsgTypeText            = "text"
	MsgTypeImage           = "image"
	MsgTypeLink            = "link"
	MsgTypeMiniProgramPage = "miniprogrampage"
)

// CustomMessage is a customer-service message (POST
// /cgi-bin/message/custom/send). Set MsgType and the one matching field;
// the New…Message helpers do both.
type CustomMessage struct {
	// ToUser is the recipient's openid.
	ToUser string `json:"touser"`
	// MsgType is one of the MsgType constants.
	MsgType string `json:"msgtype"`
	// Text is the content of a text message.
	Text *TextContent `json:"text,omitempty"`
	// Image is the content of an image message.
	Image *ImageContent `json:"image,omitempty"`
	// Link is the content of a link message.
	Link *LinkContent `json:"link,omitempty"`
	// MiniProgramPage is the content of a mini program card.
	MiniProgramPage *MiniProgramPageContent `json:"miniprogrampage,omitempty"`
}

// TextContent is a text message's body. It may hold <a> links to pages of
// this mini program.
type TextContent struct {
	// Content is the text.
	Content string `json:"content"`
}

// ImageContent is an image message's body.
type ImageContent struct {
	// MediaID comes from [Client.UploadMedia].
	MediaID string `json:"media_id"`
}

// LinkContent is a link message's body.
type LinkContent struct {
	// Title is the link's title.
	Title string `json:"title"`
	// Description is shown under the title.
	Description string `json:"description"`
	// URL is the page the link opens.
	URL string `json:"url"`
	// ThumbURL is the picture shown with the link.
	ThumbURL string `json:"thumb_url"`
}

// MiniProgramPageContent is a mini program card.
type MiniProgramPageContent struct {
	// Title is the card's title.
	Title string `json:"title"`
	// PagePath is the page opened, with an optional query.
	PagePath string `json:"pagepath"`
	// ThumbMediaID comes from [Client.UploadMedia].
	ThumbMediaID string `json:"thumb_media_id"`
}

// NewTextMessage returns a text message to the user toUser.
func NewTextMessage(toUser, content string) *CustomMessage {
	return &CustomMessage{ToUser: toUser, MsgType: MsgTypeText, Text: &TextContent{Content: content}}
}

// NewImageMessage returns an image message showing an uploaded image.
func NewImageMessage(toUser, mediaID string) *CustomMessage {
	return &CustomMessage{ToUser: toUser, MsgType: MsgTypeImage, Image: &ImageContent{MediaID: mediaID}}
}

// NewLinkMessage returns a link message.
func NewLinkMessage(toUser string, link LinkContent) *CustomMessage {
	return &CustomMessage{ToUser: toUser, MsgType: MsgTypeLink, Link: &link}
}

// NewMiniProgramPageMessage returns a mini program card message.
func NewMiniProgramPageMessage(toUser string, page MiniProgramPageContent) *CustomMessage {
	return &CustomMessage{ToUser: toUser, MsgType: MsgTypeMiniProgramPage, MiniProgramPage: &page}
}

// SendCustomMessage sends a customer-service message (POST
// /cgi-bin/message/custom/send; the newer /custom/business/send is reported
// to answer 40101). msg is a *CustomMessage, any value that encodes to
// WeChat's JSON, or a json.RawMessage / []byte sent as is. It fails with
// *Error 45015 when the user's reply window has closed, 45047 when its
// message count is spent, and 40003 for a bad openid.
func (c *Client) SendCustomMessage(ctx context.Context, msg any) error {
	r, err := newJSONRequest("/cgi-bin/message/custom/send", msg)
	if err != nil {
		return err
	}
	return c.callJSON(ctx, r, nil)
}

// SubscribeMessage is a subscribe message (POST
// /cgi-bin/message/subscribe/send).
type SubscribeMessage struct {
	// ToUser is the recipient's openid.
	ToUser string `json:"touser"`
	// TemplateID is the subscribed template.
	TemplateID string `json:"template_id"`
	// Page is opened when the user taps the message; empty: no jump.
	Page string `json:"page,omitempty"`
	// MiniprogramState is "developer", "trial" or "formal" (default).
	MiniprogramState string `json:"miniprogram_state,omitempty"`
	// Lang is "zh_CN" (default), "en_US", "zh_HK" or "zh_TW".
	Lang string `json:"lang,omitempty"`
	// Data maps the template's keywords (e.g. "thing1") to values.
	Data map[string]SubscribeValue `json:"data"`
}

// SubscribeValue is one keyword's value in a subscribe message.
type SubscribeValue struct {
	// Value must follow its keyword type's rules (e.g. thing: 20 chars).
	Value string `json:"value"`
}

// SendSubscribeMessage sends a subscribe message and returns WeChat's msgid,
// a 64-bit number, as a decimal string (it matches MsgID in the
// subscribe_msg_sent_event push; empty if WeChat sent none). It fails with
// *Error 43101 when the user refused or has no credit left, 47003 when a
// value breaks its keyword's rules and 40037 for a wrong template.
func (c *Client) SendSubscribeMessage(ctx context.Context, msg *SubscribeMessage) (string, error) {
	r, err := newJSONRequest("/cgi-bin/message/subscribe/send", msg)
	if err != nil {
		return "", err
	}
	var ans struct {
		MsgID flex.String `json:"msgid"`
	}
	if err := c.callJSON(ctx, r, &ans); err != nil {
		return "", err
	}
	if ans.MsgID != "" {
		if _, err := strconv.ParseUint(string(ans.MsgID), 10, 64); err != nil {
			return "", errUnexpected(r.path, "msgid is not an integer")
		}
	}
	return string(ans.MsgID), nil
}
