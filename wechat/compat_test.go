package wechat_test

import (
	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechat"
)

// The app passes its state store straight in as the token store.
var _ wechat.TokenStore = miniback.StateStore(nil)
