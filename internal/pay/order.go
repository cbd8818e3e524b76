package pay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechatpay"
)

var (
	outTradeNoPattern  = regexp.MustCompile(`^[0-9A-Za-z_\-|*]{6,32}$`)
	outRefundNoPattern = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,64}$`)
)

// prepayReuse is how long a prepay_id is handed out again: WeChat Pay
// keeps it two hours; the margin leaves the user time to pay.
const prepayReuse = 2*time.Hour - 10*time.Minute

// defaultExpiry is when an order without time_expire can no longer be paid.
const defaultExpiry = 7 * 24 * time.Hour

func invalid(format string, args ...any) error {
	return miniback.Errorf(miniback.ECodeInvalidRequest, format, args...)
}

// parseFen reads an amount in fen: a JSON integer (not a string, not a
// fraction) in 1..MaxInt64.
func parseFen(raw json.RawMessage, field string) (int64, error) {
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, invalid("%s must be a whole number of fen that fits in 64 bits", field)
	}
	if v <= 0 {
		return 0, invalid("%s must be positive", field)
	}
	return v, nil
}

// CreateOrder validates req and stores the order; nothing is sent to
// WeChat Pay. The same out_trade_no with the same request answers the
// stored order (created false); with another request, conflict.
func (s *Service) CreateOrder(ctx context.Context, appid string, req *miniback.OrderRequest) (*miniback.Order, bool, error) {
	if _, err := s.app(appid); err != nil {
		return nil, false, err
	}
	o, err := s.newOrder(ctx, appid, req)
	if err != nil {
		return nil, false, err
	}
	err = s.Store.CreateOrder(ctx, o)
	if miniback.ErrorCode(err) != miniback.ECodeConflict {
		return o, err == nil, err
	}
	old, err := s.Store.Order(ctx, appid, o.OutTradeNo)
	if err != nil {
		return nil, false, err
	}
	if old.Fingerprint != o.Fingerprint {
		return nil, false, miniback.Errorf(miniback.ECodeConflict, "out_trade_no %s is already used by another order", o.OutTradeNo)
	}
	return old, false, nil
}

func (s *Service) newOrder(ctx context.Context, appid string, req *miniback.OrderRequest) (*miniback.Order, error) {
	total, err := parseFen(req.Amount.Total, "amount.total")
	if err != nil {
		return nil, err
	}
	switch {
	case req.Amount.Currency != "" && req.Amount.Currency != "CNY":
		return nil, invalid("amount.currency must be CNY")
	case req.Description == "" || len(req.Description) > 127 || !utf8.ValidString(req.Description):
		return nil, invalid("description must be 1-127 bytes of UTF-8")
	case req.OutTradeNo != "" && !outTradeNoPattern.MatchString(req.OutTradeNo):
		return nil, invalid("out_trade_no must be 6-32 of [0-9A-Za-z_-|*]")
	case len(req.Attach) > 128:
		return nil, invalid("attach must be at most 128 bytes")
	}
	now := s.now()
	var expire time.Time
	if req.TimeExpire != "" {
		if expire, err = time.Parse(time.RFC3339, req.TimeExpire); err != nil || !expire.After(now) {
			return nil, invalid("time_expire must be an RFC 3339 time in the future")
		}
	}
	u, err := s.user(ctx, appid, req.UserID, req.OpenID)
	if err != nil {
		return nil, err
	}
	o := &miniback.Order{OutTradeNo: req.OutTradeNo, AppID: appid, UserID: u.ID, OpenID: u.OpenID,
		Description: req.Description, Amount: miniback.Amount{Total: total, Currency: "CNY"}, Attach: req.Attach,
		TimeExpire: expire.UTC(), CreatedAt: now, NextCheckAt: now.Add(checkAfter[0])}
	if o.OutTradeNo == "" {
		o.OutTradeNo = "mb" + now.UTC().Format("20060102150405") + wechatpay.NewNonce()[:16]
	}
	fp, _ := json.Marshal([]any{o.UserID, o.Description, o.Amount, o.Attach, req.TimeExpire})
	sum := sha256.Sum256(fp)
	o.Fingerprint = hex.EncodeToString(sum[:])
	return o, nil
}

func (s *Service) user(ctx context.Context, appid string, id int64, openid string) (*miniback.User, error) {
	var u *miniback.User
	var err error
	switch {
	case id != 0 && openid != "":
		return nil, invalid("give user_id or openid, not both")
	case id != 0:
		u, err = s.Users.User(ctx, appid, id)
	case openid != "":
		u, err = s.Users.UserByOpenID(ctx, appid, openid)
	default:
		return nil, invalid("user_id or openid is required")
	}
	if miniback.IsNotFound(err) {
		return nil, invalid("no such user in this app")
	}
	return u, err
}

// Order returns an order; with sync, WeChat Pay is asked first and its
// answer applied.
func (s *Service) Order(ctx context.Context, appid, no string, sync bool) (*miniback.Order, error) {
	o, err := s.Store.Order(ctx, appid, no)
	if err != nil || !sync || o.Final() {
		return o, err
	}
	return s.syncOrder(ctx, o)
}

// UserOrder is Order for the mini program: another user's order is
// not_found, and sync asks WeChat Pay at most once per 5 s per order.
func (s *Service) UserOrder(ctx context.Context, appid string, userID int64, no string, sync bool) (*miniback.Order, error) {
	o, err := s.Store.Order(ctx, appid, no)
	if err != nil {
		return nil, err
	}
	if o.UserID != userID {
		return nil, miniback.Errorf(miniback.ECodeNotFound, "order not found")
	}
	if !sync || o.Final() {
		return o, nil
	}
	if ok, err := s.State.SetNX(ctx, "pay:sync:"+appid+":"+no, "1", 5*time.Second); err != nil || !ok {
		return o, err
	}
	return s.syncOrder(ctx, o)
}

// Orders lists orders newest first.
func (s *Service) Orders(ctx context.Context, appid string, f miniback.OrderFilter) ([]*miniback.Order, error) {
	if _, err := s.app(appid); err != nil {
		return nil, err
	}
	return s.Store.Orders(ctx, appid, f)
}

// syncOrder queries WeChat Pay about o and applies what it says.
func (s *Service) syncOrder(ctx context.Context, o *miniback.Order) (*miniback.Order, error) {
	app, err := s.app(o.AppID)
	if err != nil {
		return nil, err
	}
	tx, err := app.Client.QueryByOutTradeNo(ctx, o.OutTradeNo)
	if e, ok := wechatpay.AsError(err); ok && e.IsNotFound() {
		return o, nil // never prepaid
	}
	if err != nil {
		return nil, wechatPayError(err)
	}
	return s.applyTransaction(ctx, app, o, tx, "query")
}

// applyTransaction records a transaction reported by a notification or a
// query, after checking it belongs to o.
func (s *Service) applyTransaction(ctx context.Context, app *App, o *miniback.Order, tx *wechatpay.Transaction, source string) (*miniback.Order, error) {
	if tx.AppID != o.AppID || tx.MchID != app.MchID || tx.OutTradeNo != o.OutTradeNo || (tx.TradeState == wechatpay.TradeSuccess && tx.Amount.Total != o.Amount.Total) {
		s.log().Warn("pay: transaction does not match the order", "appid", o.AppID, "out_trade_no", o.OutTradeNo,
			"source", source, "reported_total", tx.Amount.Total, "order_total", o.Amount.Total)
		return nil, errMismatch
	}
	switch tx.TradeState {
	case wechatpay.TradeSuccess, wechatpay.TradeRefund:
		paidAt, err := time.Parse(time.RFC3339, tx.SuccessTime)
		if err != nil {
			paidAt = s.now()
		}
		if tx.TransactionID == "" {
			return nil, errMismatch
		}
		o, _, err = s.Store.MarkPaid(ctx, o.AppID, o.OutTradeNo, miniback.PaidUpdate{TransactionID: tx.TransactionID, PaidAt: paidAt.UTC()}, s.now())
		return o, err
	case wechatpay.TradeClosed:
		if o.Status == miniback.OrderPaid || o.Status == miniback.OrderRefunded {
			return o, nil
		}
		o, _, err := s.Store.MarkClosed(ctx, o.AppID, o.OutTradeNo, s.now())
		return o, err
	}
	return o, nil
}

var errMismatch = miniback.Errorf(miniback.ECodeInvalidRequest, "the transaction does not match the order")

// CloseOrder closes an unpaid order at WeChat Pay (when it was prepaid)
// and here. A paid order is order_paid.
func (s *Service) CloseOrder(ctx context.Context, appid, no string) (*miniback.Order, error) {
	app, err := s.app(appid)
	if err != nil {
		return nil, err
	}
	o, err := s.Store.Order(ctx, appid, no)
	switch {
	case err != nil:
		return nil, err
	case o.Status == miniback.OrderClosed:
		return o, nil
	case o.Final():
		return nil, miniback.Errorf(miniback.ECodeOrderPaid, "the order is %s", o.Status)
	}
	if o.Status == miniback.OrderPaying {
		if err := app.Client.Close(ctx, no); err != nil {
			if e, ok := wechatpay.AsError(err); ok && e.Code == wechatpay.CodeOrderPaid {
				_, _ = s.syncOrder(ctx, o)
			}
			return nil, wechatPayError(err)
		}
	}
	o, _, err = s.Store.MarkClosed(ctx, appid, no, s.now())
	return o, err
}

// PayOrder returns the wx.requestPayment arguments of the user's order,
// calling JSAPI prepay the first time and reusing the prepay_id while it
// is valid. Prepay is sent with the same parameters every time, so a
// retry after a lost answer gets the same prepay_id back.
func (s *Service) PayOrder(ctx context.Context, appid string, userID int64, no string) (*wechatpay.PayParams, error) {
	app, err := s.app(appid)
	if err != nil {
		return nil, err
	}
	o, err := s.Store.Order(ctx, appid, no)
	if err != nil {
		return nil, err
	}
	if o.UserID != userID {
		return nil, miniback.Errorf(miniback.ECodeNotFound, "order not found")
	}
	if err := payable(o, s.now()); err != nil {
		return nil, err
	}
	now := s.now()
	if o.PrepayID == "" || now.Sub(o.PrepayAt) >= prepayReuse {
		id, err := app.Client.Prepay(ctx, prepayRequest(app, o))
		if err != nil {
			return nil, wechatPayError(err)
		}
		if o, err = s.Store.SetPrepay(ctx, appid, no, id, now, now.Add(checkAfter[0])); err != nil {
			return nil, err
		}
	}
	p, err := app.Client.RequestPayment(appid, o.PrepayID)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func payable(o *miniback.Order, now time.Time) error {
	switch o.Status {
	case miniback.OrderPaid, miniback.OrderRefunded:
		return miniback.Errorf(miniback.ECodeOrderPaid, "the order is already paid")
	case miniback.OrderClosed:
		return miniback.Errorf(miniback.ECodeOrderClosed, "the order is closed")
	}
	if !expiry(o).After(now) {
		return miniback.Errorf(miniback.ECodeOrderExpired, "the order expired")
	}
	return nil
}

// expiry is the last moment o can be paid.
func expiry(o *miniback.Order) time.Time {
	if !o.TimeExpire.IsZero() {
		return o.TimeExpire
	}
	return o.CreatedAt.Add(defaultExpiry)
}

func prepayRequest(app *App, o *miniback.Order) wechatpay.PrepayRequest {
	r := wechatpay.PrepayRequest{AppID: o.AppID, Description: o.Description, OutTradeNo: o.OutTradeNo,
		Attach: o.Attach, NotifyURL: app.NotifyURL, Amount: wechatpay.Amount{Total: o.Amount.Total, Currency: "CNY"},
		Payer: wechatpay.Payer{OpenID: o.OpenID}}
	if !o.TimeExpire.IsZero() {
		r.TimeExpire = o.TimeExpire.In(beijing).Format(time.RFC3339)
	}
	return r
}

var beijing = time.FixedZone("CST", 8*3600)
