package inbox_test

import (
	"context"
	"fmt"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/inbox"
	"github.com/miniback/miniback/push"
)

// An embedder adds its own handler by name, then names it in rules.
func ExampleNewRouter() {
	greet := inbox.HandlerFunc(func(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error {
		fmt.Printf("%s said %q\n", m.FromUserName, m.Content)
		return nil
	})
	router, err := inbox.NewRouter([]inbox.Rule{
		{MsgType: "text", ContentRegex: `^hello`, Handler: "greet"},
	}, inbox.WithHandler("greet", greet))
	if err != nil {
		fmt.Println(err)
		return
	}
	in := &miniback.InboxMessage{ID: 1, AppID: "wxa",
		Message: []byte(`{"FromUserName":"oUser","MsgType":"text","Content":"hello there","MsgId":1}`)}
	if err := router.Dispatch(context.Background(), in); err != nil {
		fmt.Println(err)
	}
	// Output: oUser said "hello there"
}
