package sandbox

import (
	"net/http"
	"strings"
	"time"
)

func (s *Server) handleRefund(r *http.Request, app *App, body []byte) (int, any, error) {
	var in refundIn
	if err := decodePay(body, &in); err != nil {
		return 0, nil, err
	}
	switch {
	case in.OutTradeNo == "" && in.TransactionID == "":
		return 0, nil, payErr(400, "PARAM_ERROR", "transaction_id 和 out_trade_no 必须二选一")
	case !outRefundNoPattern.MatchString(in.OutRefundNo):
		return 0, nil, payErr(400, "PARAM_ERROR", "out_refund_no 格式错误")
	case in.Amount == nil || in.Amount.Refund == nil || in.Amount.Total == nil || *in.Amount.Refund <= 0:
		return 0, nil, payErr(400, "PARAM_ERROR", "amount.refund 和 amount.total 必填且大于0")
	case in.Amount.Currency != "CNY":
		return 0, nil, payErr(400, "PARAM_ERROR", "amount.currency 必须为 CNY")
	case len(in.Reason) > 80:
		return 0, nil, payErr(400, "PARAM_ERROR", "reason 超过80字节")
	}
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	o := s.pay.orders[app.Pay.MchID+"/"+in.OutTradeNo]
	if in.TransactionID != "" {
		o = s.pay.byTransaction[in.TransactionID]
	}
	if o == nil || o.params.MchID != app.Pay.MchID {
		return 0, nil, payErr(404, "RESOURCE_NOT_EXISTS", "订单不存在")
	}
	if rf := s.pay.refunds[app.Pay.MchID+"/"+in.OutRefundNo]; rf != nil {
		if rf.outTradeNo != o.params.OutTradeNo || rf.amount != *in.Amount.Refund {
			return 0, nil, payErr(400, "INVALID_REQUEST", "同一退款单号的参数不一致")
		}
		return 200, refundOf(rf), nil
	}
	switch {
	case o.state != "SUCCESS" && o.state != "REFUND":
		return 0, nil, payErr(400, "INVALID_REQUEST", "订单未支付，不能退款")
	case *in.Amount.Total != o.total:
		return 0, nil, payErr(400, "PARAM_ERROR", "订单金额与原订单不一致")
	case o.refunded+*in.Amount.Refund > o.total:
		return 0, nil, payErr(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
	}
	rf := &payRefund{mchid: app.Pay.MchID, appid: o.params.AppID, outRefundNo: in.OutRefundNo,
		refundID: "50" + randDigits(30), outTradeNo: o.params.OutTradeNo, transactionID: o.transactionID,
		reason: in.Reason, notifyURL: in.NotifyURL, status: "PROCESSING",
		amount: *in.Amount.Refund, total: o.total, created: s.now()}
	if rf.notifyURL == "" {
		rf.notifyURL = o.params.NotifyURL
	}
	s.pay.refunds[app.Pay.MchID+"/"+in.OutRefundNo] = rf
	o.refunded += rf.amount
	o.state = "REFUND"
	return 200, refundOf(rf), nil
}

// refundOf is the answer for rf. The caller holds s.pay.mu.
func refundOf(rf *payRefund) refundOut {
	out := refundOut{RefundID: rf.refundID, OutRefundNo: rf.outRefundNo, TransactionID: rf.transactionID,
		OutTradeNo: rf.outTradeNo, Channel: "ORIGINAL", UserReceivedAccount: "支付用户零钱",
		CreateTime: rf.created.In(beijing).Format(time.RFC3339), Status: rf.status, FundsAccount: "AVAILABLE"}
	if !rf.succeeded.IsZero() {
		out.SuccessTime = rf.succeeded.In(beijing).Format(time.RFC3339)
	}
	out.Amount.Total, out.Amount.Refund, out.Amount.PayerTotal, out.Amount.PayerRefund = rf.total, rf.amount, rf.total, rf.amount
	out.Amount.Currency = "CNY"
	return out
}

func (s *Server) handleQueryRefund(r *http.Request, app *App, _ []byte) (int, any, error) {
	no := strings.TrimPrefix(r.URL.Path, "/v3/refund/domestic/refunds/")
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	rf := s.pay.refunds[app.Pay.MchID+"/"+no]
	if rf == nil {
		return 0, nil, payErr(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	return 200, refundOf(rf), nil
}
