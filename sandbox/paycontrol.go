package sandbox

import (
	"net/http"
	"time"
)

// PayFault is one injection of POST /sandbox/pay/faults. With Path, the
// next Count calls to that WeChat Pay path (exact, or a prefix when it ends
// in "/") answer WeChat Pay error Code with HTTPStatus (each derived from
// the other when missing), or, with DelayMS, are served normally after
// that delay (a timeout at the client after WeChat Pay acted). DropNotify
// loses the next that many notifications; Probe sends the next one first
// as a WECHATPAY/SIGNTEST/ probe; NotifyFault spoils the first delivery of
// the next one (a Notify* value).
type PayFault struct {
	Path        string `json:"path,omitempty"`
	Code        string `json:"code,omitempty"`
	HTTPStatus  int    `json:"http_status,omitempty"`
	DelayMS     int    `json:"delay_ms,omitempty"`
	Count       int    `json:"count,omitempty"`
	DropNotify  int    `json:"drop_notify,omitempty"`
	Probe       bool   `json:"probe,omitempty"`
	NotifyFault string `json:"notify_fault,omitempty"`
}

type payFaultState struct {
	PayFault
	left int
}

// InjectPayFault queues f. It is safe for concurrent use.
func (s *Server) InjectPayFault(f PayFault) error {
	switch f.NotifyFault {
	case "", NotifyProbe, NotifyAmount, NotifySignature, NotifyStale, NotifySerial:
	default:
		return ctlErr(http.StatusBadRequest, "notify_fault must be probe, amount, signature, stale or serial")
	}
	if f.Path == "" && f.DropNotify <= 0 && !f.Probe && f.NotifyFault == "" {
		return ctlErr(http.StatusBadRequest, "one of path, drop_notify, probe, notify_fault is required")
	}
	if f.Path != "" && f.Code == "" && f.HTTPStatus == 0 && f.DelayMS <= 0 {
		return ctlErr(http.StatusBadRequest, "a path fault needs code, http_status or delay_ms")
	}
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	s.pay.dropNotify += max(f.DropNotify, 0)
	if f.Probe {
		s.pay.notifyFaults = append(s.pay.notifyFaults, NotifyProbe)
	}
	if f.NotifyFault != "" {
		s.pay.notifyFaults = append(s.pay.notifyFaults, f.NotifyFault)
	}
	if f.Path != "" {
		s.pay.faults = append(s.pay.faults, &payFaultState{PayFault: f, left: max(f.Count, 1)})
	}
	return nil
}

func (s *Server) takePayFault(path string) *PayFault {
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	for i, f := range s.pay.faults {
		if f.Path != path && !(f.Path[len(f.Path)-1] == '/' && len(path) > len(f.Path) && path[:len(f.Path)] == f.Path) {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.pay.faults = append(s.pay.faults[:i:i], s.pay.faults[i+1:]...)
		}
		out := f.PayFault
		return &out
	}
	return nil
}

// actPayFault waits (DelayMS) and returns nil, or returns the error answer.
func (s *Server) actPayFault(r *http.Request, f *PayFault) error {
	if f.Code == "" && f.HTTPStatus == 0 {
		t := time.NewTimer(time.Duration(f.DelayMS) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		return nil
	}
	code, status := f.Code, f.HTTPStatus
	if code == "" {
		code = map[bool]string{true: "SYSTEM_ERROR", false: "INVALID_REQUEST"}[status >= 500]
		if status == 429 {
			code = "FREQUENCY_LIMITED"
		}
	}
	if status == 0 {
		status = statusOfPayCode(code)
	}
	return payErr(status, code, "sandbox injected fault")
}

func statusOfPayCode(code string) int {
	switch code {
	case "SYSTEM_ERROR", "BANK_ERROR":
		return 500
	case "FREQUENCY_LIMITED", "RATELIMIT_EXCEEDED":
		return 429
	case "SIGN_ERROR":
		return 401
	case "NO_AUTH", "ORDERPAID", "OUT_TRADE_NO_USED", "NOT_ENOUGH", "RULE_LIMIT", "TRADE_ERROR":
		return 403
	case "ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS":
		return 404
	}
	return 400
}

// ConfirmPayment plays the user: result "SUCCESS" pays the order and
// notifies the backend; "CLOSED" closes it (the order timed out), which
// WeChat Pay does not notify.
func (s *Server) ConfirmPayment(appid, outTradeNo, result string) (map[string]any, error) {
	a := s.payApp(appid)
	if a == nil {
		return nil, ctlErr(http.StatusNotFound, "unknown appid %q or it has no pay", appid)
	}
	s.pay.mu.Lock()
	o := s.pay.orders[a.Pay.MchID+"/"+outTradeNo]
	switch {
	case o == nil || o.params.AppID != appid:
		s.pay.mu.Unlock()
		return nil, ctlErr(http.StatusNotFound, "no order %q: prepay it first", outTradeNo)
	case o.state != "NOTPAY":
		s.pay.mu.Unlock()
		return nil, ctlErr(http.StatusConflict, "order %q is %s", outTradeNo, o.state)
	case result == "CLOSED":
		o.state = "CLOSED"
		s.pay.mu.Unlock()
		return map[string]any{"out_trade_no": outTradeNo, "trade_state": "CLOSED"}, nil
	case result != "SUCCESS":
		s.pay.mu.Unlock()
		return nil, ctlErr(http.StatusBadRequest, "result must be SUCCESS or CLOSED")
	}
	o.state, o.successTime = "SUCCESS", s.now()
	o.transactionID = "42000" + randDigits(23)
	s.pay.byTransaction[o.transactionID] = o
	tx := transactionOf(o)
	spoiled := tx
	spoiled.Amount.Total++
	spoiled.Amount.PayerTotal++
	n := &notice{id: newNoticeID(), appid: appid, url: o.params.NotifyURL, event: "TRANSACTION.SUCCESS", summary: "支付成功",
		origType: "transaction", outTradeNo: outTradeNo, apiV3Key: a.Pay.APIv3Key, resource: tx, spoiled: spoiled,
		withCert: a.Pay.NotifyWith == "certificate"}
	s.pay.mu.Unlock()
	s.sendNotice(n)
	return map[string]any{"out_trade_no": outTradeNo, "trade_state": "SUCCESS", "transaction_id": tx.TransactionID}, nil
}

// SettleRefund plays the bank: status SUCCESS, CLOSED or ABNORMAL settles
// the refund and notifies the backend.
func (s *Server) SettleRefund(appid, outRefundNo, status string) (map[string]any, error) {
	a := s.payApp(appid)
	if a == nil {
		return nil, ctlErr(http.StatusNotFound, "unknown appid %q or it has no pay", appid)
	}
	if status != "SUCCESS" && status != "CLOSED" && status != "ABNORMAL" {
		return nil, ctlErr(http.StatusBadRequest, "status must be SUCCESS, CLOSED or ABNORMAL")
	}
	s.pay.mu.Lock()
	rf := s.pay.refunds[a.Pay.MchID+"/"+outRefundNo]
	if rf == nil || rf.appid != appid {
		s.pay.mu.Unlock()
		return nil, ctlErr(http.StatusNotFound, "no refund %q", outRefundNo)
	}
	if rf.status != "PROCESSING" && rf.status != "ABNORMAL" {
		s.pay.mu.Unlock()
		return nil, ctlErr(http.StatusConflict, "refund %q is %s", outRefundNo, rf.status)
	}
	rf.status = status
	switch status {
	case "SUCCESS":
		rf.succeeded = s.now()
	case "CLOSED":
		if o := s.pay.orders[rf.mchid+"/"+rf.outTradeNo]; o != nil {
			o.refunded -= rf.amount
		}
	}
	rn := refundNoticeOut{MchID: rf.mchid, OutTradeNo: rf.outTradeNo, TransactionID: rf.transactionID, OutRefundNo: rf.outRefundNo,
		RefundID: rf.refundID, RefundStatus: status, UserReceivedAccount: "支付用户零钱"}
	if !rf.succeeded.IsZero() {
		rn.SuccessTime = rf.succeeded.In(beijing).Format(time.RFC3339)
	}
	rn.Amount.Total, rn.Amount.Refund, rn.Amount.PayerTotal, rn.Amount.PayerRefund = rf.total, rf.amount, rf.total, rf.amount
	spoiled := rn
	spoiled.Amount.Refund++
	n := &notice{id: newNoticeID(), appid: appid, url: rf.notifyURL, event: "REFUND." + status, summary: "退款状态变更",
		origType: "refund", outTradeNo: rf.outTradeNo, outRefundNo: outRefundNo, apiV3Key: a.Pay.APIv3Key,
		resource: rn, spoiled: spoiled, withCert: a.Pay.NotifyWith == "certificate"}
	s.pay.mu.Unlock()
	s.sendNotice(n)
	return map[string]any{"out_refund_no": outRefundNo, "status": status}, nil
}

func (s *Server) payApp(appid string) *App {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appid]
	if !ok || a.Pay == nil {
		return nil
	}
	app := a.App
	return &app
}

func (s *Server) handleControlPayConfirm(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost); err != nil {
		return err
	}
	var req struct {
		AppID      string `json:"appid"`
		OutTradeNo string `json:"out_trade_no"`
		Result     string `json:"result"`
	}
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	if req.Result == "" {
		req.Result = "SUCCESS"
	}
	out, err := s.ConfirmPayment(req.AppID, req.OutTradeNo, req.Result)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleControlRefundResult(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost); err != nil {
		return err
	}
	var req struct {
		AppID       string `json:"appid"`
		OutRefundNo string `json:"out_refund_no"`
		Status      string `json:"status"`
	}
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	out, err := s.SettleRefund(req.AppID, req.OutRefundNo, req.Status)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleControlPayFaults(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost, http.MethodDelete); err != nil {
		return err
	}
	if r.Method == http.MethodDelete {
		s.pay.mu.Lock()
		s.pay.faults, s.pay.notifyFaults, s.pay.dropNotify = nil, nil, 0
		s.pay.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	var f PayFault
	if err := decodeControl(r, &f); err != nil {
		return err
	}
	if err := s.InjectPayFault(f); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleControlNotifications(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodGet); err != nil {
		return err
	}
	q := r.URL.Query()
	d := s.Deliveries(q.Get("out_trade_no"), q.Get("out_refund_no"))
	if d == nil {
		d = []Delivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": d})
	return nil
}
