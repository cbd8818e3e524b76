package push

import (
	"bytes"
	"encoding/json"

	"github.com/miniback/miniback/internal/flex"
)

// wireMessage is the tolerant decoding target of a push's JSON fields
// (protocol §d.6 "Parsing tolerances"). encoding/json matches keys
// case-insensitively, so "AppId" (miniprogrampage) and "appid"
// (wxa_media_check) both land in AppID, and "MsgId"/"MsgID" in MsgID.
type wireMessage struct {
	ToUserName   flex.String `json:"ToUserName"`
	FromUserName flex.String `json:"FromUserName"`
	CreateTime   flex.Int    `json:"CreateTime"`
	MsgType      flex.String `json:"MsgType"`
	Event        flex.String `json:"Event"`
	MsgID        flex.String `json:"MsgId"`
	Content      flex.String `json:"Content"`
	PicURL       flex.String `json:"PicUrl"`
	MediaID      flex.String `json:"MediaId"`
	Title        flex.String `json:"Title"`
	AppID        flex.String `json:"AppId"`
	PagePath     flex.String `json:"PagePath"`
	ThumbURL     flex.String `json:"ThumbUrl"`
	ThumbMediaID flex.String `json:"ThumbMediaId"`
	SessionFrom  flex.String `json:"SessionFrom"`
	TraceID      flex.String `json:"trace_id"`
	Encrypt      flex.String `json:"Encrypt"`
	Result       flexResult  `json:"result"`
	List         flexList    `json:"List"`
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
	TemplateID            flex.String `json:"TemplateId"`
	SubscribeStatusString flex.String `json:"SubscribeStatusString"`
	PopupScene            flex.String `json:"PopupScene"`
	MsgID                 flex.String `json:"MsgID"`
	ErrorCode             flex.String `json:"ErrorCode"`
	ErrorStatus           flex.String `json:"ErrorStatus"`
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
	Suggest flex.String
	Label   flex.String
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *flexResult) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	var v struct {
		Suggest flex.String `json:"suggest"`
		Label   flex.String `json:"label"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	r.Suggest, r.Label = v.Suggest, v.Label
	return nil
}
