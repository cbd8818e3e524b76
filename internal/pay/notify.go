package pay

import (
	"context"
	"errors"
	"net/http"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechatpay"
)

// HandleNotification verifies, decrypts and applies one WeChat Pay
// notification for appid. It returns nil when the notification is applied
// (or was already): answer 204. Any other answer makes WeChat Pay send it
// again; a notification that fails verification, decryption or matching
// changes nothing.
func (s *Service) HandleNotification(ctx context.Context, appid string, header http.Header, body []byte) error {
	app, err := s.app(appid)
	if err != nil {
		return err
	}
	n, err := app.Client.ParseNotification(ctx, header, body)
	if err != nil {
		return s.refuse(appid, err)
	}
	switch n.EventType {
	case wechatpay.EventTransactionSuccess:
		err = s.notifiedTransaction(ctx, app, n)
	case wechatpay.EventRefundSuccess, wechatpay.EventRefundClosed, wechatpay.EventRefundAbnormal:
		err = s.notifiedRefund(ctx, app, n)
	default:
		s.log().Info("pay: notification ignored", "appid", appid, "event_type", n.EventType)
	}
	if err != nil {
		return s.refuse(appid, err)
	}
	s.count("ok")
	return nil
}

func (s *Service) refuse(appid string, err error) error {
	switch {
	case errors.Is(err, wechatpay.ErrSignature):
		s.count("bad_signature")
		s.log().Warn("pay: notification refused", "appid", appid, "reason", err.Error())
		return miniback.WrapError(miniback.ECodeUnauthorized, "signature verification failed", err)
	case errors.Is(err, wechatpay.ErrMalformed), errors.Is(err, wechatpay.ErrDecrypt):
		s.count("bad_body")
		s.log().Warn("pay: notification refused", "appid", appid, "reason", err.Error())
		return miniback.WrapError(miniback.ECodeInvalidRequest, "malformed or undecryptable notification", err)
	case errors.Is(err, errMismatch):
		s.count("mismatch")
		return err
	case miniback.IsNotFound(err):
		s.count("unknown")
		return err
	}
	s.count("error")
	return err
}

func (s *Service) notifiedTransaction(ctx context.Context, app *App, n *wechatpay.Notification) error {
	tx, err := n.Transaction()
	if err != nil {
		return err
	}
	o, err := s.Store.Order(ctx, app.AppID, tx.OutTradeNo)
	if err != nil {
		if miniback.IsNotFound(err) {
			s.log().Warn("pay: notification for an unknown order", "appid", app.AppID, "out_trade_no", tx.OutTradeNo)
		}
		return err
	}
	_, err = s.applyTransaction(ctx, app, o, tx, "notification")
	return err
}

func (s *Service) notifiedRefund(ctx context.Context, app *App, n *wechatpay.Notification) error {
	rn, err := n.Refund()
	if err != nil {
		return err
	}
	r, err := s.Store.Refund(ctx, app.AppID, rn.OutRefundNo)
	if err != nil {
		return err
	}
	if rn.MchID != app.MchID || rn.OutTradeNo != r.OutTradeNo || rn.Amount.Refund != r.Amount {
		s.log().Warn("pay: refund notification does not match", "appid", app.AppID, "out_trade_no", r.OutTradeNo, "out_refund_no", r.OutRefundNo)
		return errMismatch
	}
	_, err = s.applyRefund(ctx, r, rn.RefundStatus, rn.RefundID)
	return err
}
