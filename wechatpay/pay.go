package wechatpay

import (
	"context"
	"errors"
	"net/url"
)

// Amount is an order amount in the currency's smallest unit (fen for CNY).
type Amount struct {
	Total    int64  `json:"total"`
	Currency string `json:"currency,omitempty"`
}

// Payer is who pays: the openid under the prepay's appid.
type Payer struct {
	OpenID string `json:"openid"`
}

// PrepayRequest is the body of JSAPI (mini program) prepay. MchID is
// filled in by the Client.
type PrepayRequest struct {
	AppID       string `json:"appid"`
	MchID       string `json:"mchid"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  string `json:"time_expire,omitempty"`
	Attach      string `json:"attach,omitempty"`
	NotifyURL   string `json:"notify_url"`
	Amount      Amount `json:"amount"`
	Payer       Payer  `json:"payer"`
}

// Transaction is a payment as queried or notified.
type Transaction struct {
	AppID          string            `json:"appid"`
	MchID          string            `json:"mchid"`
	OutTradeNo     string            `json:"out_trade_no"`
	TransactionID  string            `json:"transaction_id"`
	TradeType      string            `json:"trade_type"`
	TradeState     string            `json:"trade_state"`
	TradeStateDesc string            `json:"trade_state_desc"`
	BankType       string            `json:"bank_type"`
	Attach         string            `json:"attach"`
	SuccessTime    string            `json:"success_time"`
	Payer          Payer             `json:"payer"`
	Amount         TransactionAmount `json:"amount"`
}

// TransactionAmount is the amount block of a Transaction.
type TransactionAmount struct {
	Total         int64  `json:"total"`
	PayerTotal    int64  `json:"payer_total"`
	Currency      string `json:"currency"`
	PayerCurrency string `json:"payer_currency"`
}

// Trade states of a JSAPI payment.
const (
	TradeSuccess = "SUCCESS"
	TradeRefund  = "REFUND"
	TradeNotPay  = "NOTPAY"
	TradeClosed  = "CLOSED"
)

// RefundRequest is the body of a domestic refund.
type RefundRequest struct {
	TransactionID string              `json:"transaction_id,omitempty"`
	OutTradeNo    string              `json:"out_trade_no,omitempty"`
	OutRefundNo   string              `json:"out_refund_no"`
	Reason        string              `json:"reason,omitempty"`
	NotifyURL     string              `json:"notify_url,omitempty"`
	Amount        RefundRequestAmount `json:"amount"`
}

// RefundRequestAmount is the amount block of a RefundRequest.
type RefundRequestAmount struct {
	Refund   int64  `json:"refund"`
	Total    int64  `json:"total"`
	Currency string `json:"currency"`
}

// Refund is a refund as created or queried.
type Refund struct {
	RefundID            string       `json:"refund_id"`
	OutRefundNo         string       `json:"out_refund_no"`
	TransactionID       string       `json:"transaction_id"`
	OutTradeNo          string       `json:"out_trade_no"`
	Channel             string       `json:"channel"`
	UserReceivedAccount string       `json:"user_received_account"`
	SuccessTime         string       `json:"success_time"`
	CreateTime          string       `json:"create_time"`
	Status              string       `json:"status"`
	FundsAccount        string       `json:"funds_account"`
	Amount              RefundAmount `json:"amount"`
}

// RefundAmount is the amount block of a Refund.
type RefundAmount struct {
	Total       int64  `json:"total"`
	Refund      int64  `json:"refund"`
	PayerTotal  int64  `json:"payer_total"`
	PayerRefund int64  `json:"payer_refund"`
	Currency    string `json:"currency"`
}

// Refund statuses.
const (
	RefundSuccess    = "SUCCESS"
	RefundClosed     = "CLOSED"
	RefundProcessing = "PROCESSING"
	RefundAbnormal   = "ABNORMAL"
)

// Prepay calls JSAPI prepay (POST /v3/pay/transactions/jsapi) and returns
// the prepay_id, valid two hours. Calling it again with identical
// parameters returns the current prepay_id; other parameters under the
// same out_trade_no are an *Error with code OUT_TRADE_NO_USED.
func (c *Client) Prepay(ctx context.Context, req PrepayRequest) (string, error) {
	req.MchID = c.mchID
	var out struct {
		PrepayID string `json:"prepay_id"`
	}
	if err := c.do(ctx, "POST", "/v3/pay/transactions/jsapi", req, &out); err != nil {
		return "", err
	}
	if out.PrepayID == "" {
		return "", errors.New("wechatpay: POST /v3/pay/transactions/jsapi: answer without prepay_id")
	}
	return out.PrepayID, nil
}

// QueryByOutTradeNo queries a payment by the merchant's order number. An
// unknown order is an *Error whose IsNotFound is true.
func (c *Client) QueryByOutTradeNo(ctx context.Context, outTradeNo string) (*Transaction, error) {
	var t Transaction
	p := "/v3/pay/transactions/out-trade-no/" + url.PathEscape(outTradeNo) + "?mchid=" + url.QueryEscape(c.mchID)
	if err := c.do(ctx, "GET", p, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// QueryByTransactionID queries a payment by WeChat Pay's transaction id.
func (c *Client) QueryByTransactionID(ctx context.Context, transactionID string) (*Transaction, error) {
	var t Transaction
	p := "/v3/pay/transactions/id/" + url.PathEscape(transactionID) + "?mchid=" + url.QueryEscape(c.mchID)
	if err := c.do(ctx, "GET", p, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Close closes an unpaid order (204). Closing a paid order is an *Error
// with code ORDERPAID.
func (c *Client) Close(ctx context.Context, outTradeNo string) error {
	p := "/v3/pay/transactions/out-trade-no/" + url.PathEscape(outTradeNo) + "/close"
	return c.do(ctx, "POST", p, map[string]string{"mchid": c.mchID}, nil)
}

// CreateRefund asks for a refund (POST /v3/refund/domestic/refunds). The
// answer only means accepted; the outcome comes by notification or
// QueryRefund. The same out_refund_no is the same refund, so retrying
// cannot refund twice.
func (c *Client) CreateRefund(ctx context.Context, req RefundRequest) (*Refund, error) {
	if req.Amount.Currency == "" {
		req.Amount.Currency = "CNY"
	}
	var r Refund
	if err := c.do(ctx, "POST", "/v3/refund/domestic/refunds", req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// QueryRefund queries a refund by the merchant's refund number.
func (c *Client) QueryRefund(ctx context.Context, outRefundNo string) (*Refund, error) {
	var r Refund
	if err := c.do(ctx, "GET", "/v3/refund/domestic/refunds/"+url.PathEscape(outRefundNo), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
