package api

import (
	"context"
	"errors"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/gateway"
	"github.com/miniback/miniback/wechat"
)

// codeOfWeChat maps WeChat errcodes to miniback error codes; any errcode not
// listed is wechat_rejected (the request was refused for a reason WeChat
// names in wechat_errcode).
var codeOfWeChat = map[int]string{
	-1:    miniback.ECodeWeChatBusy,
	40007: miniback.ECodeNotFound,
	40029: miniback.ECodeInvalidCode,
	40163: miniback.ECodeInvalidCode,
	40226: miniback.ECodeForbidden,
	45009: miniback.ECodeWeChatRateLimited,
	45011: miniback.ECodeWeChatRateLimited,
	40001: miniback.ECodeWeChatConfig,
	40002: miniback.ECodeWeChatConfig,
	40013: miniback.ECodeWeChatConfig,
	40014: miniback.ECodeWeChatConfig,
	40125: miniback.ECodeWeChatConfig,
	40164: miniback.ECodeWeChatConfig,
	40243: miniback.ECodeWeChatConfig,
	41001: miniback.ECodeWeChatConfig,
	41002: miniback.ECodeWeChatConfig,
	42001: miniback.ECodeWeChatConfig,
	48001: miniback.ECodeWeChatConfig,
	61024: miniback.ECodeWeChatConfig,
}

var messageOf = map[string]string{
	miniback.ECodeInvalidCode:       "the code is invalid, expired or was already used",
	miniback.ECodeForbidden:         "WeChat refused this user",
	miniback.ECodeNotFound:          "WeChat does not know this media id (temporary media live three days)",
	miniback.ECodeWeChatBusy:        "WeChat is busy; try again",
	miniback.ECodeWeChatRateLimited: "WeChat's rate limit was reached; try again later",
	miniback.ECodeWeChatConfig:      "WeChat refused miniback's credentials for this app",
	miniback.ECodeWeChatRejected:    "WeChat rejected the request",
	miniback.ECodeWeChatTimeout:     "WeChat did not answer in time",
	miniback.ECodeWeChatUnavailable: "WeChat could not be reached",
}

// fromWeChat turns an error of the wechat client into a miniback Error that
// names WeChat as the cause.
func fromWeChat(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var we *wechat.Error
	if errors.As(err, &we) {
		code, ok := codeOfWeChat[we.Code]
		if !ok {
			code = miniback.ECodeWeChatRejected
		}
		return &miniback.Error{Code: code, Message: messageOf[code], WeChatErrCode: we.Code, Err: err}
	}
	// Our own state store failed on the way (the token cache): not WeChat.
	var me *miniback.Error
	if errors.As(err, &me) && me.Code == miniback.ECodeUnavailable {
		return err
	}
	var open *gateway.OpenError
	if errors.As(err, &open) {
		return &miniback.Error{Code: miniback.ECodeWeChatUnavailable, RetryAfter: open.RetryAfter, Err: err,
			Message: "WeChat is failing; miniback stopped calling it for a while (its circuit breaker is open)"}
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return miniback.WrapError(miniback.ECodeInvalidRequest, "the request was cancelled", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return miniback.WrapError(miniback.ECodeWeChatTimeout, messageOf[miniback.ECodeWeChatTimeout], err)
	}
	return miniback.WrapError(miniback.ECodeWeChatUnavailable, messageOf[miniback.ECodeWeChatUnavailable], err)
}
