package wechat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/miniback/miniback/wechat"
)

// A stand-in for api.weixin.qq.com answers code2Session; a real program
// leaves out WithBaseURL.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"openid": "oVBkZ0aYgDMDIywRdgPW8-joxXc4", "session_key": "nzoqhc3OnwHzeTxJs+inbQ==",
		})
	}))
	defer srv.Close()

	c := wechat.NewClient("wx4f4bc4dec97d474b", "app-secret", wechat.WithBaseURL(srv.URL))
	sess, err := c.Code2Session(context.Background(), "code-from-wx.login")
	if err != nil {
		fmt.Println("login failed:", err)
		return
	}
	fmt.Println(sess.OpenID)
	fmt.Println(sess) // the session key is redacted
	// Output:
	// oVBkZ0aYgDMDIywRdgPW8-joxXc4
	// wechat.Session{OpenID:"oVBkZ0aYgDMDIywRdgPW8-joxXc4", UnionID:"", SessionKey:[redacted]}
}
