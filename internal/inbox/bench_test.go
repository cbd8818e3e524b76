package inbox_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/miniback/miniback/push"
)

// BenchmarkPortalSafeJSON measures one safe-mode JSON push through
// ServeMessage: signature and msg_signature checks, decryption, parsing,
// the SQLite inbox insert and the publish. Building the encrypted request
// is outside the timer.
func BenchmarkPortalSafeJSON(b *testing.B) {
	env := newPortalEnv(b)
	env.portal.Now = func() time.Time { return testNow }
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		inner := fmt.Appendf(nil, `{"ToUserName":"gh_x","FromUserName":"oUser","CreateTime":%d,"MsgType":"text","Content":"hello","MsgId":%d}`, testNow.Unix(), 1000000+i)
		p := buildPush(b, "wxencjson", "safe", push.FormatJSON, inner, testNow.Unix())
		req := httptest.NewRequest(http.MethodPost, "/wx/portal/wxencjson?"+p.query.Encode(), bytes.NewReader(p.body))
		req.SetPathValue("appid", "wxencjson")
		rec := httptest.NewRecorder()
		b.StartTimer()
		if err := env.portal.ServeMessage(rec, req); err != nil {
			b.Fatal(err)
		}
	}
}
