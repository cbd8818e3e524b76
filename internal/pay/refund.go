package pay

import (
	"context"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechatpay"
)

// CreateRefund refunds part or all of a paid order. The refund is stored
// (checking the paid total) before WeChat Pay is asked, with the same
// out_refund_no every time, so a retry or a crash cannot refund twice.
// The same out_refund_no with the same order and amount answers the
// existing refund.
func (s *Service) CreateRefund(ctx context.Context, appid, no string, req *miniback.RefundRequest) (*miniback.Refund, error) {
	app, err := s.app(appid)
	if err != nil {
		return nil, err
	}
	amount, err := parseFen(req.Amount, "amount")
	if err != nil {
		return nil, err
	}
	switch {
	case req.OutRefundNo != "" && !outRefundNoPattern.MatchString(req.OutRefundNo):
		return nil, invalid("out_refund_no must be 1-64 of [0-9A-Za-z_-|*@]")
	case len(req.Reason) > 80:
		return nil, invalid("reason must be at most 80 bytes")
	}
	o, err := s.Store.Order(ctx, appid, no)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r := &miniback.Refund{AppID: appid, OutRefundNo: req.OutRefundNo, OutTradeNo: no, Amount: amount,
		Reason: req.Reason, CreatedAt: now, NextCheckAt: now.Add(checkAfter[0])}
	if r.OutRefundNo == "" {
		r.OutRefundNo = "rf" + now.UTC().Format("20060102150405") + wechatpay.NewNonce()[:16]
	}
	if err := s.Store.CreateRefund(ctx, r); err != nil {
		if miniback.ErrorCode(err) != miniback.ECodeConflict {
			return nil, err
		}
		old, gerr := s.Store.Refund(ctx, appid, r.OutRefundNo)
		if gerr != nil || old.OutTradeNo != no || old.Amount != amount {
			return nil, miniback.Errorf(miniback.ECodeConflict, "out_refund_no %s is already used by another refund", r.OutRefundNo)
		}
		if old.RefundID != "" || old.Status != miniback.RefundProcessing {
			return old, nil
		}
		r = old // stored but maybe never accepted: ask again, same number
	}
	return s.submitRefund(ctx, app, o, r)
}

// submitRefund asks WeChat Pay for a stored refund and records its answer.
// A refusal closes the refund (freeing its amount); a transient failure
// leaves it processing for reconciliation, which asks again.
func (s *Service) submitRefund(ctx context.Context, app *App, o *miniback.Order, r *miniback.Refund) (*miniback.Refund, error) {
	ans, err := app.Client.CreateRefund(ctx, wechatpay.RefundRequest{OutTradeNo: o.OutTradeNo, OutRefundNo: r.OutRefundNo,
		Reason: r.Reason, NotifyURL: app.NotifyURL,
		Amount: wechatpay.RefundRequestAmount{Refund: r.Amount, Total: o.Amount.Total, Currency: "CNY"}})
	if err != nil {
		if !wechatpay.IsTransient(err) && !isRateLimited(err) {
			_, _, _ = s.Store.SetRefundStatus(ctx, r.AppID, r.OutRefundNo, miniback.RefundClosed, "", s.now())
		}
		return nil, wechatPayError(err)
	}
	return s.applyRefund(ctx, r, ans.Status, ans.RefundID)
}

func isRateLimited(err error) bool {
	e, ok := wechatpay.AsError(err)
	return ok && e.IsRateLimited()
}

// refundStatuses maps WeChat Pay's refund status to ours.
var refundStatuses = map[string]string{
	wechatpay.RefundProcessing: miniback.RefundProcessing,
	wechatpay.RefundSuccess:    miniback.RefundSucceeded,
	wechatpay.RefundClosed:     miniback.RefundClosed,
	wechatpay.RefundAbnormal:   miniback.RefundAbnormal,
}

func (s *Service) applyRefund(ctx context.Context, r *miniback.Refund, wxStatus, refundID string) (*miniback.Refund, error) {
	status, ok := refundStatuses[wxStatus]
	if !ok {
		return r, nil
	}
	r, _, err := s.Store.SetRefundStatus(ctx, r.AppID, r.OutRefundNo, status, refundID, s.now())
	return r, err
}

// Refund returns a refund; with sync, WeChat Pay is asked first.
func (s *Service) Refund(ctx context.Context, appid, no string, sync bool) (*miniback.Refund, error) {
	r, err := s.Store.Refund(ctx, appid, no)
	if err != nil || !sync || (r.Status != miniback.RefundProcessing && r.Status != miniback.RefundAbnormal) {
		return r, err
	}
	return s.syncRefund(ctx, r)
}

func (s *Service) syncRefund(ctx context.Context, r *miniback.Refund) (*miniback.Refund, error) {
	app, err := s.app(r.AppID)
	if err != nil {
		return nil, err
	}
	ans, err := app.Client.QueryRefund(ctx, r.OutRefundNo)
	if e, ok := wechatpay.AsError(err); ok && e.IsNotFound() {
		// Stored here but never accepted there (a crash or a lost
		// answer): ask again with the same out_refund_no.
		o, oerr := s.Store.Order(ctx, r.AppID, r.OutTradeNo)
		if oerr != nil {
			return nil, oerr
		}
		return s.submitRefund(ctx, app, o, r)
	}
	if err != nil {
		return nil, wechatPayError(err)
	}
	if ans.OutTradeNo != r.OutTradeNo || ans.Amount.Refund != r.Amount {
		s.log().Warn("pay: refund does not match", "appid", r.AppID, "out_refund_no", r.OutRefundNo)
		return nil, errMismatch
	}
	return s.applyRefund(ctx, r, ans.Status, ans.RefundID)
}

// checkAfter is when reconciliation queries WeChat Pay about an order or
// refund that has no answer yet, counted from its prepay (or creation):
// 1, 5, 15 and 60 minutes, then hourly.
var checkAfter = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}

// nextCheck returns when the check after n checks is due.
func nextCheck(base time.Time, n int) time.Time {
	if n < len(checkAfter) {
		return base.Add(checkAfter[n])
	}
	return base.Add(time.Hour * time.Duration(n-len(checkAfter)+2))
}
