package push_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/miniback/miniback/push"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func formatOf(name string) string {
	if strings.HasSuffix(name, ".xml") {
		return push.FormatXML
	}
	return push.FormatJSON
}

// TestParseSamples parses every sample of protocol §d.6, in both formats.
func TestParseSamples(t *testing.T) {
	popup2 := []push.ListItem{
		{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", SubscribeStatusString: "accept", PopupScene: "2"},
		{TemplateID: "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI", SubscribeStatusString: "reject", PopupScene: "2"},
	}
	text := push.Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "text", Content: "this is a test", MsgID: "1234567890123456"}
	image := push.Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "image", PicURL: "this is a url", MediaID: "media_id", MsgID: "1234567890123456"}
	tempsession := push.Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "event", Event: "user_enter_tempsession", SessionFrom: "sessionFrom"}
	cloud := push.Message{ToUserName: "gh_x", FromUserName: "oUser", CreateTime: 1555684067, MsgType: "text", Content: "hi", MsgID: "49d72d67b16e7c3a_1555684067"}
	unknown := push.Message{ToUserName: "gh_x", FromUserName: "oUser", CreateTime: 1700000000, MsgType: "event", Event: "trade_manage_remind_shipping"}
	tests := []struct {
		file  string
		want  push.Message
		dedup string
	}{
		{"text.xml", text, "msg:1234567890123456"},
		{"text.json", text, "msg:1234567890123456"},
		{"image.xml", image, "msg:1234567890123456"},
		{"image.json", image, "msg:1234567890123456"},
		{"miniprogrampage.xml", push.Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "miniprogrampage", MsgID: "1234567890123456", Title: "Title", AppID: "AppId", PagePath: "PagePath", ThumbURL: "ThumbUrl", ThumbMediaID: "ThumbMediaId"}, "msg:1234567890123456"},
		{"miniprogrampage.json", push.Message{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "miniprogrampage", MsgID: "1234567890123456", Title: "title", AppID: "appid", PagePath: "path"}, "msg:1234567890123456"},
		{"user_enter_tempsession.xml", tempsession, "event:fromUser:1482048670:user_enter_tempsession"},
		{"user_enter_tempsession.json", tempsession, "event:fromUser:1482048670:user_enter_tempsession"},
		{"subscribe_msg_popup_event.xml", push.Message{ToUserName: "gh_123456789abc", FromUserName: "otFpruAK8D-E6EfStSYonYSBZ8_4", CreateTime: 1610969440, MsgType: "event", Event: "subscribe_msg_popup_event", List: popup2}, "event:otFpruAK8D-E6EfStSYonYSBZ8_4:1610969440:subscribe_msg_popup_event"},
		{"subscribe_msg_popup_event_single.xml", push.Message{ToUserName: "gh_123456789abc", FromUserName: "otFpruAK8D-E6EfStSYonYSBZ8_4", CreateTime: 1610969440, MsgType: "event", Event: "subscribe_msg_popup_event", List: []push.ListItem{{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", SubscribeStatusString: "accept", PopupScene: "0"}}}, "event:otFpruAK8D-E6EfStSYonYSBZ8_4:1610969440:subscribe_msg_popup_event"},
		{"subscribe_msg_popup_event.json", push.Message{ToUserName: "gh_123456789abc", FromUserName: "otFpruAK8D-E6EfStSYonYSBZ8_4", CreateTime: 1610969440, MsgType: "event", Event: "subscribe_msg_popup_event", List: []push.ListItem{{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", SubscribeStatusString: "accept", PopupScene: "0"}}}, "event:otFpruAK8D-E6EfStSYonYSBZ8_4:1610969440:subscribe_msg_popup_event"},
		{"subscribe_msg_popup_event_array.json", push.Message{ToUserName: "gh_123456789abc", FromUserName: "otFpruAK8D-E6EfStSYonYSBZ8_4", CreateTime: 1610969440, MsgType: "event", Event: "subscribe_msg_popup_event", List: popup2}, "event:otFpruAK8D-E6EfStSYonYSBZ8_4:1610969440:subscribe_msg_popup_event"},
		{"subscribe_msg_change_event.xml", push.Message{ToUserName: "gh_123456789abc", FromUserName: "o7esq5OI1Uej6Xixw1lA2H7XDVbc", CreateTime: 1610968440, MsgType: "event", Event: "subscribe_msg_change_event", List: []push.ListItem{{TemplateID: "BEwX0BOT3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8", SubscribeStatusString: "reject"}}}, "event:o7esq5OI1Uej6Xixw1lA2H7XDVbc:1610968440:subscribe_msg_change_event"},
		{"subscribe_msg_change_event.json", push.Message{ToUserName: "gh_123456789abc", FromUserName: "o7esq5OI1Uej6Xixw1lA2H7XDVbc", CreateTime: 1610968440, MsgType: "event", Event: "subscribe_msg_change_event", List: []push.ListItem{{TemplateID: "BEwX0BOT3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8", SubscribeStatusString: "reject"}}}, "event:o7esq5OI1Uej6Xixw1lA2H7XDVbc:1610968440:subscribe_msg_change_event"},
		{"subscribe_msg_sent_event.xml", push.Message{ToUserName: "gh_123456789abc", FromUserName: "otFpruAK8D-E6EfStSYonYSBZ8_4", CreateTime: 1610969468, MsgType: "event", Event: "subscribe_msg_sent_event", List: []push.ListItem{{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", MsgID: "1700827132819554304", ErrorCode: "0", ErrorStatus: "success"}}}, "event:otFpruAK8D-E6EfStSYonYSBZ8_4:1610969468:subscribe_msg_sent_event"},
		{"subscribe_msg_sent_event.json", push.Message{ToUserName: "gh_123456789abc", FromUserName: "o7esq5PHRGBQYmeNyfG064wEFVpQ", CreateTime: 1620963428, MsgType: "event", Event: "subscribe_msg_sent_event", List: []push.ListItem{{TemplateID: "BEwX0BO-T3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8", MsgID: "1864323726461255680", ErrorCode: "0", ErrorStatus: "success"}}}, "event:o7esq5PHRGBQYmeNyfG064wEFVpQ:1620963428:subscribe_msg_sent_event"},
		{"wxa_media_check_v2.xml", push.Message{ToUserName: "gh_6e306981e699", FromUserName: "oeaTy0Ej7xM_LexOCWGeJtL4ABoE", CreateTime: 1659967849, MsgType: "event", Event: "wxa_media_check", AppID: "wx12b4f63276b14d4c", TraceID: "62f11967-2b24d27a-34715985", Result: push.MediaCheckResult{Suggest: "pass", Label: "100"}}, "event:oeaTy0Ej7xM_LexOCWGeJtL4ABoE:1659967849:wxa_media_check"},
		{"wxa_media_check_v2.json", push.Message{ToUserName: "gh_7bf1f1389686", FromUserName: "or9bw69jaWwJlF-6u0z3qT3KmO2k", CreateTime: 1762329554, MsgType: "event", Event: "wxa_media_check", AppID: "wxb04d1be1ede56d47", TraceID: "690b03d2-301f6111-35ffbd44", Result: push.MediaCheckResult{Suggest: "pass", Label: "100"}}, "event:or9bw69jaWwJlF-6u0z3qT3KmO2k:1762329554:wxa_media_check"},
		{"wxa_media_check_v1.xml", push.Message{ToUserName: "gh_…", FromUserName: "…", CreateTime: 1658730632, MsgType: "event", Event: "wxa_media_check", AppID: "wx…", TraceID: "bd8117e7041fd2424bdac93effdb745f"}, "event:…:1658730632:wxa_media_check"},
		{"wxa_media_check_v1.json", push.Message{ToUserName: "gh_…", FromUserName: "…", CreateTime: 1658730632, MsgType: "event", Event: "wxa_media_check", AppID: "wx…", TraceID: "bd8117e7041fd2424bdac93effdb745f"}, "event:…:1658730632:wxa_media_check"},
		{"debug_demo.xml", push.Message{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: 1715943329, MsgType: "event", Event: "debug_demo"}, "event:o9AgO5Kd5ggOC-bXrbNODIiE3bGY:1715943329:debug_demo"},
		{"debug_demo.json", push.Message{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: 1714112445, MsgType: "event", Event: "debug_demo"}, "event:o9AgO5Kd5ggOC-bXrbNODIiE3bGY:1714112445:debug_demo"},
		{"cloud_text.xml", cloud, "msg:49d72d67b16e7c3a_1555684067"},
		{"cloud_text.json", cloud, "msg:49d72d67b16e7c3a_1555684067"},
		{"unknown_event.xml", unknown, "event:oUser:1700000000:trade_manage_remind_shipping"},
		{"unknown_event.json", unknown, "event:oUser:1700000000:trade_manage_remind_shipping"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := push.Parse(formatOf(tt.file), readSample(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			fields := m.Fields
			var obj map[string]any
			if err := json.Unmarshal(fields, &obj); err != nil {
				t.Fatalf("Fields is not a JSON object: %v: %s", err, fields)
			}
			m.Fields = nil
			if !reflect.DeepEqual(*m, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", *m, tt.want)
			}
			if got := m.DedupKey(); got != tt.dedup {
				t.Errorf("DedupKey = %q, want %q", got, tt.dedup)
			}
			// Every field survives into Fields, including unknown ones.
			for _, k := range []string{"ToUserName", "MsgType", "CreateTime"} {
				if _, ok := obj[k]; !ok {
					t.Errorf("Fields lacks %s: %s", k, fields)
				}
			}
		})
	}
}

// TestParseFieldsKeepUnknown checks the XML → JSON conversion and that
// JSON numbers are kept exactly.
func TestParseFieldsKeepUnknown(t *testing.T) {
	tests := []struct{ file, want string }{
		{"unknown_event.xml", `{"ToUserName":"gh_x","FromUserName":"oUser","CreateTime":"1700000000","MsgType":"event","Event":"trade_manage_remind_shipping","order":{"id":"9007199254740993","items":["1","2"]}}`},
		{"unknown_event.json", `{"ToUserName":"gh_x","FromUserName":"oUser","CreateTime":1700000000,"MsgType":"event","Event":"trade_manage_remind_shipping","order":{"id":"9007199254740993","items":[1,2]}}`},
		{"text.json", `{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"text","Content":"this is a test","MsgId":1234567890123456}`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := push.Parse(formatOf(tt.file), readSample(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Fields) != tt.want {
				t.Errorf("Fields = %s\nwant     %s", m.Fields, tt.want)
			}
		})
	}
}

func TestParseTolerances(t *testing.T) {
	tests := []struct {
		name, format, body string
		check              func(*push.Message) bool
	}{
		{"64-bit MsgId number", "JSON", `{"MsgType":"text","MsgId":9223372036854775807}`, func(m *push.Message) bool { return m.MsgID == "9223372036854775807" }},
		{"MsgId beyond float precision", "JSON", `{"MsgType":"text","MsgId":24000000000000001}`, func(m *push.Message) bool { return m.MsgID == "24000000000000001" }},
		{"CreateTime string", "JSON", `{"MsgType":"event","CreateTime":"12"}`, func(m *push.Message) bool { return m.CreateTime == 12 }},
		{"CreateTime empty", "JSON", `{"MsgType":"event","CreateTime":""}`, func(m *push.Message) bool { return m.CreateTime == 0 }},
		{"ErrorCode number", "JSON", `{"MsgType":"event","List":[{"ErrorCode":43101,"PopupScene":1}]}`, func(m *push.Message) bool {
			return len(m.List) == 1 && m.List[0].ErrorCode == "43101" && m.List[0].PopupScene == "1"
		}},
		{"label number", "JSON", `{"MsgType":"event","result":{"suggest":"risky","label":20001}}`, func(m *push.Message) bool { return m.Result.Label == "20001" }},
		{"List wrapped in JSON", "JSON", `{"MsgType":"event","SubscribeMsgSentEvent":{"List":{"MsgID":"7"}}}`, func(m *push.Message) bool { return len(m.List) == 1 && m.List[0].MsgID == "7" }},
		{"odd shapes ignored", "JSON", `{"MsgType":"event","Content":{"a":1},"List":"x","result":[1],"Event":null}`, func(m *push.Message) bool { return m.Content == "" && m.List == nil && m.Event == "" }},
		{"format case-insensitive", "json", `{"MsgType":"text"}`, func(m *push.Message) bool { return m.MsgType == "text" }},
		{"char reference", "XML", `<xml><MsgType>text</MsgType><Content>a&amp;b&#x4e2d;&lt;</Content></xml>`, func(m *push.Message) bool { return m.Content == "a&b中<" }},
		{"xml declaration and comment", "XML", `<?xml version="1.0" encoding="UTF-8"?><!-- c --><xml><MsgType>text</MsgType></xml>`, func(m *push.Message) bool { return m.MsgType == "text" }},
		{"envelope", "XML", `<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[abc=]]></Encrypt></xml>`, func(m *push.Message) bool { return m.Encrypt == "abc=" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := push.Parse(tt.format, []byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tt.check(m) {
				t.Errorf("unexpected %+v", m)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40)
	tests := []struct {
		name, format, body string
		want               error
	}{
		{"unknown format", "YAML", `{}`, push.ErrFormat},
		{"truncated XML", "XML", `<xml><MsgType><![CDATA[text]]></MsgType><Content>hel`, push.ErrTruncated},
		{"truncated XML in tag", "XML", `<xml><MsgType>text</MsgTy`, push.ErrTruncated},
		{"unclosed root", "XML", `<xml><MsgType>text</MsgType>`, push.ErrTruncated},
		{"empty XML", "XML", ``, push.ErrTruncated},
		{"DOCTYPE", "XML", `<!DOCTYPE xml [<!ENTITY x "y">]><xml><MsgType>&x;</MsgType></xml>`, push.ErrDirective},
		{"external entity", "XML", `<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml/>`, push.ErrDirective},
		{"undeclared entity", "XML", `<xml><MsgType>&x;</MsgType></xml>`, push.ErrSyntax},
		{"two roots", "XML", `<xml></xml><xml></xml>`, push.ErrSyntax},
		{"mismatched tags", "XML", `<xml><a></b></xml>`, push.ErrSyntax},
		{"text root", "XML", `<xml>hello</xml>`, push.ErrNotObject},
		{"too deep XML", "XML", "<xml>" + deep + "</xml>", push.ErrDepth},
		{"JSON given to XML", "XML", `{"MsgType":"text"}`, push.ErrSyntax},
		{"XML given to JSON", "JSON", `<xml><MsgType>text</MsgType></xml>`, push.ErrSyntax},
		{"truncated JSON", "JSON", `{"MsgType":"te`, push.ErrTruncated},
		{"JSON array", "JSON", `[1]`, push.ErrNotObject},
		{"too deep JSON", "JSON", `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, push.ErrDepth},
		{"invalid UTF-8 in JSON", "JSON", "{\"MsgType\":\"text\",\"Content\":\"a\xffb\"}", push.ErrSyntax},
		{"invalid UTF-8 in XML", "XML", "<xml><MsgType>text</MsgType><Content>a\xffb</Content></xml>", push.ErrSyntax},
		{"bad CreateTime", "JSON", `{"MsgType":"event","CreateTime":"soon"}`, push.ErrField},
		{"float CreateTime", "JSON", `{"MsgType":"event","CreateTime":1.5}`, push.ErrField},
		{"too large", "JSON", `{"a":"` + strings.Repeat("x", push.MaxMessageSize) + `"}`, push.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := push.Parse(tt.format, []byte(tt.body))
			var pe *push.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
