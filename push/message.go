package push

import (
	"encoding/json"
	"strconv"
)

// Message is one push, parsed. The typed fields cover the message and event
// types of protocol §d.6; Fields holds every field of the push as a JSON
// object (XML converted: nested elements become objects, repeated elements
// arrays, text becomes strings), so nothing unknown is dropped.
type Message struct {
	ToUserName   string // the mini program's original id (gh_…)
	FromUserName string // the sender's openid
	CreateTime   int64  // unix seconds
	MsgType      string // text, image, miniprogrampage, event, …
	Event        string // for MsgType "event"
	MsgID        string // MsgId, kept as text: it may be 64-bit or non-numeric
	Content      string
	PicURL       string
	MediaID      string
	Title        string
	AppID        string // miniprogrampage AppId, or wxa_media_check appid
	PagePath     string
	ThumbURL     string
	ThumbMediaID string
	SessionFrom  string
	TraceID      string // wxa_media_check trace_id
	// List holds the items of subscribe_msg_popup_event,
	// subscribe_msg_change_event and subscribe_msg_sent_event, whether the
	// push carried one object or an array, at the top level (JSON) or
	// inside SubscribeMsg…Event (XML).
	List []ListItem
	// Result is the overall verdict of wxa_media_check version 2.
	Result MediaCheckResult
	// Encrypt is the ciphertext of compatible and safe modes; empty in
	// plaintext pushes and in decrypted inner messages.
	Encrypt string
	// Fields is every field of the push as a JSON object.
	Fields json.RawMessage
}

// ListItem is one template of a subscribe-message event. Numbers that
// WeChat sometimes sends as strings are kept as text.
type ListItem struct {
	TemplateID            string
	SubscribeStatusString string // accept, reject, or values not yet documented
	PopupScene            string
	MsgID                 string
	ErrorCode             string
	ErrorStatus           string
}

// MediaCheckResult is the "result" object of a wxa_media_check event.
type MediaCheckResult struct {
	Suggest string // pass, review or risky
	Label   string // kept as text: it arrives as a number or a string
}

// DedupKey identifies the push across WeChat's retries (protocol §d.5):
// "msg:"+MsgID for messages that carry a MsgId, else
// "event:"+FromUserName+":"+CreateTime+":"+Event. The event key includes
// Event so that two different events of one user in the same second are
// both kept.
func (m *Message) DedupKey() string {
	if m.MsgID != "" {
		return "msg:" + m.MsgID
	}
	return "event:" + m.FromUserName + ":" + strconv.FormatInt(m.CreateTime, 10) + ":" + m.Event
}

// IsEvent reports whether the push is an event rather than a user message.
func (m *Message) IsEvent() bool { return m.MsgType == "event" }
