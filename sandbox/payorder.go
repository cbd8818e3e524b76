package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// prepayTTL is how long a prepay_id stays valid.
const prepayTTL = 2 * time.Hour

func decodePay(body []byte, v any) error {
	if len(body) == 0 || json.Unmarshal(body, v) != nil {
		return payErr(400, "PARAM_ERROR", "请求体不是合法的JSON")
	}
	return nil
}

func (s *Server) handlePrepay(r *http.Request, app *App, body []byte) (int, any, error) {
	var in prepayIn
	if err := decodePay(body, &in); err != nil {
		return 0, nil, err
	}
	if err := s.checkPrepay(&in, app); err != nil {
		return 0, nil, err
	}
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	key := in.MchID + "/" + in.OutTradeNo
	o := s.pay.orders[key]
	switch {
	case o == nil:
		o = &payOrder{params: in, total: *in.Amount.Total, state: "NOTPAY"}
		s.pay.orders[key] = o
	case !samePrepay(o.params, in):
		return 0, nil, payErr(403, "OUT_TRADE_NO_USED", "商户订单号重复")
	case o.state == "SUCCESS" || o.state == "REFUND":
		return 0, nil, payErr(403, "ORDERPAID", "该订单已支付")
	case o.state == "CLOSED":
		return 0, nil, payErr(400, "ORDER_CLOSED", "订单已关闭")
	}
	if o.prepayID == "" || s.now().Sub(o.prepayAt) >= prepayTTL {
		o.prepayID, o.prepayAt = "wx"+s.now().Format("02150405")+randDigits(24), s.now()
	}
	return 200, map[string]string{"prepay_id": o.prepayID}, nil
}

func (s *Server) checkPrepay(in *prepayIn, app *App) error {
	switch {
	case in.MchID != app.Pay.MchID:
		return payErr(400, "PARAM_ERROR", "mchid与请求头中的商户号不一致")
	case in.AppID == "" || in.Description == "" || in.OutTradeNo == "" || in.NotifyURL == "" || in.Amount == nil || in.Amount.Total == nil || in.Payer == nil || in.Payer.OpenID == "":
		return payErr(400, "PARAM_ERROR", "缺少必填参数 appid, description, out_trade_no, notify_url, amount.total 或 payer.openid")
	case !s.boundTo(in.AppID, in.MchID):
		return payErr(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
	case len(in.Description) > 127 || !utf8.ValidString(in.Description):
		return payErr(400, "PARAM_ERROR", "description 超过127字节")
	case !outTradeNoPattern.MatchString(in.OutTradeNo):
		return payErr(400, "PARAM_ERROR", "out_trade_no 格式错误")
	case *in.Amount.Total <= 0:
		return payErr(400, "PARAM_ERROR", "amount.total 必须大于0")
	case in.Amount.Currency != "" && in.Amount.Currency != "CNY":
		return payErr(400, "PARAM_ERROR", "Currency code is invalid")
	case len(in.Attach) > 128:
		return payErr(400, "PARAM_ERROR", "attach 超过128字节")
	}
	if u, err := url.Parse(in.NotifyURL); err != nil || u.RawQuery != "" || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// The real service insists on HTTPS; the sandbox also takes
		// http:// so that a local backend can be notified.
		return payErr(400, "PARAM_ERROR", "notify_url 格式错误")
	}
	if in.TimeExpire != "" {
		if _, err := time.Parse(time.RFC3339, in.TimeExpire); err != nil {
			return payErr(400, "PARAM_ERROR", "time_expire 格式错误")
		}
	}
	return nil
}

// boundTo reports whether appid is an app of merchant mchid.
func (s *Server) boundTo(appid, mchid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appid]
	return ok && a.Pay != nil && a.Pay.MchID == mchid
}

func samePrepay(a, b prepayIn) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func (s *Server) handleQueryByNo(r *http.Request, app *App, _ []byte) (int, any, error) {
	no := strings.TrimPrefix(r.URL.Path, "/v3/pay/transactions/out-trade-no/")
	if err := requireMchID(r, app); err != nil {
		return 0, nil, err
	}
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	o := s.pay.orders[app.Pay.MchID+"/"+no]
	if o == nil {
		return 0, nil, payErr(404, "ORDER_NOT_EXIST", "订单不存在")
	}
	return 200, transactionOf(o), nil
}

func (s *Server) handleQueryByID(r *http.Request, app *App, _ []byte) (int, any, error) {
	id := strings.TrimPrefix(r.URL.Path, "/v3/pay/transactions/id/")
	if err := requireMchID(r, app); err != nil {
		return 0, nil, err
	}
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	o := s.pay.byTransaction[id]
	if o == nil || o.params.MchID != app.Pay.MchID {
		return 0, nil, payErr(404, "ORDER_NOT_EXIST", "订单不存在")
	}
	return 200, transactionOf(o), nil
}

func requireMchID(r *http.Request, app *App) error {
	if r.URL.Query().Get("mchid") != app.Pay.MchID {
		return payErr(400, "PARAM_ERROR", "mchid 参数缺失或与请求头不一致")
	}
	return nil
}

// transactionOf is the query answer and the notification resource of o.
// The caller holds s.pay.mu.
func transactionOf(o *payOrder) transactionOut {
	t := transactionOut{AppID: o.params.AppID, MchID: o.params.MchID, OutTradeNo: o.params.OutTradeNo,
		TradeState: o.state, Attach: o.params.Attach}
	t.Payer.OpenID = o.params.Payer.OpenID
	t.Amount.Total, t.Amount.Currency, t.Amount.PayerCurrency = o.total, "CNY", "CNY"
	switch o.state {
	case "SUCCESS", "REFUND":
		t.TradeStateDesc = "支付成功"
		t.TransactionID, t.TradeType, t.BankType = o.transactionID, "JSAPI", "OTHERS"
		t.SuccessTime = o.successTime.In(beijing).Format(time.RFC3339)
		t.Amount.PayerTotal = o.total
	case "CLOSED":
		t.TradeStateDesc = "订单已关闭"
	default:
		t.TradeStateDesc = "订单未支付"
	}
	return t
}

func (s *Server) handleClose(r *http.Request, app *App, body []byte) (int, any, error) {
	no := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v3/pay/transactions/out-trade-no/"), "/close")
	var in struct {
		MchID string `json:"mchid"`
	}
	if err := decodePay(body, &in); err != nil {
		return 0, nil, err
	}
	if in.MchID != app.Pay.MchID {
		return 0, nil, payErr(400, "PARAM_ERROR", "mchid 与请求头不一致")
	}
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	o := s.pay.orders[app.Pay.MchID+"/"+no]
	switch {
	case o == nil:
		return 0, nil, payErr(404, "ORDER_NOT_EXIST", "订单不存在")
	case o.state == "SUCCESS" || o.state == "REFUND":
		return 0, nil, payErr(403, "ORDERPAID", "订单已支付")
	}
	o.state = "CLOSED"
	return 204, nil, nil
}

func (s *Server) handleCertificates(r *http.Request, app *App, _ []byte) (int, any, error) {
	p, err := s.platform()
	if err != nil {
		return 0, nil, err
	}
	nonce := randAlnum(12)
	ct, err := gcmSeal([]byte(app.Pay.APIv3Key), nonce, "certificate", p.certPEM)
	if err != nil {
		return 0, nil, err
	}
	item := map[string]any{
		"serial_no":      p.certSerial,
		"effective_time": s.now().Add(-time.Hour).In(beijing).Format(time.RFC3339),
		"expire_time":    p.notAfter.In(beijing).Format(time.RFC3339),
		"encrypt_certificate": map[string]string{
			"algorithm": "AEAD_AES_256_GCM", "nonce": nonce, "associated_data": "certificate", "ciphertext": ct,
		},
	}
	return 200, map[string]any{"data": []any{item}}, nil
}
