package push

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// wireMessage is the tolerant decoding target of a push's JSON fields
// (protocol §d.6 "Parsing tolerances"). encoding/json matches keys
// case-insensitively, so "AppId" (miniprogrampage) and "appid"
// (wxa_media_check) both land in AppID, and "MsgId"/"MsgID" in MsgID.
type wireMessage struct {
	ToUserName   flexString `json:"ToUserName"`
	FromUserName flexString `json:"FromUserName"`
	CreateTime   flexInt    `json:"CreateTime"`
	MsgType      flexString `json:"MsgType"`
	Event        flexString `json:"Event"`
	MsgID        flexString `json:"MsgId"`
	Content      flexString `json:"Content"`
	PicURL       flexString `json:"PicUrl"`
	MediaID      flexString `json:"MediaId"`
	Title        flexString `json:"Title"`
	AppID        flexString `json:"AppId"`
	PagePath     flexString `json:"PagePath"`
	ThumbURL     flexString `json:"ThumbUrl"`
	ThumbMediaID flexString `json:"ThumbMediaId"`
	SessionFrom  flexString `json:"SessionFrom"`
	TraceID      flexString `json:"trace_id"`
	Encrypt      flexString `json:"Encrypt"`
	Result       flexResult `json:"result"`
	List         flexList   `json:"List"`
	// XML pushes (and some JSON ones) wrap List in an element named for
	// the event.
	PopupEvent  flexWrapper `json:"SubscribeMsgPopupEvent"`
	ChangeEvent flexWrapper `json:"SubscribeMsgChangeEvent"`
	SentEvent   flexWrapper `json:"SubscribeMsgSentEvent"`
}

func (w *wireMessage) items() []ListItem {
	for _, l := range []flexList{w.List, w.PopupEvent.List, w.ChangeEvent.List, w.SentEvent.List} {
		if len(l) > 0 {
			return l
		}
	}
	return nil
}

// flexString accepts a JSON string, or a number kept as its exact text
// (so a 64-bit MsgId never passes through float64), or a boolean. Null,
// objects and arrays leave it empty: the raw value stays in Fields.
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
		return nil
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9') || b[0] == 't' || b[0] == 'f':
		*s = flexString(b)
	}
	return nil
}

// flexInt accepts an integer as a JSON number or a decimal string
// (CreateTime arrives both ways). Empty strings and null give 0; anything
// else that is not a 64-bit integer is an error.
type flexInt int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	*n = flexInt(v)
	return nil
}

// flexList accepts one List item as an object or several as an array.
type flexList []ListItem

// UnmarshalJSON implements json.Unmarshaler.
func (l *flexList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '{':
		var it wireItem
		if err := json.Unmarshal(b, &it); err != nil {
			return err
		}
		*l = flexList{it.item()}
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		for _, r := range raw {
			var it wireItem
			if len(r) > 0 && r[0] == '{' {
				if err := json.Unmarshal(r, &it); err != nil {
					return err
				}
				*l = append(*l, it.item())
			}
		}
	}
	return nil
}

type wireItem struct {
	TemplateID            flexString `json:"TemplateId"`
	SubscribeStatusString flexString `json:"SubscribeStatusString"`
	PopupScene            flexString `json:"PopupScene"`
	MsgID                 flexString `json:"MsgID"`
	ErrorCode             flexString `json:"ErrorCode"`
	ErrorStatus           flexString `json:"ErrorStatus"`
}

func (it wireItem) item() ListItem {
	return ListItem{
		TemplateID: string(it.TemplateID), SubscribeStatusString: string(it.SubscribeStatusString),
		PopupScene: string(it.PopupScene), MsgID: string(it.MsgID),
		ErrorCode: string(it.ErrorCode), ErrorStatus: string(it.ErrorStatus),
	}
}

// flexWrapper is an object holding List; other shapes are ignored.
type flexWrapper struct{ List flexList }

// UnmarshalJSON implements json.Unmarshaler.
func (w *flexWrapper) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	var v struct {
		List flexList `json:"List"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	w.List = v.List
	return nil
}

// flexResult is wxa_media_check's result object; other shapes are ignored.
type flexResult struct {
	Suggest flexString
	Label   flexString
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *flexResult) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	var v struct {
		Suggest flexString `json:"suggest"`
		Label   flexString `json:"label"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	r.Suggest, r.Label = v.Suggest, v.Label
	return nil
}
