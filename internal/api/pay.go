package api

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechatpay"
)

// PayService is the WeChat Pay flow (internal/pay).
type PayService interface {
	CreateOrder(ctx context.Context, appid string, req *miniback.OrderRequest) (*miniback.Order, bool, error)
	Order(ctx context.Context, appid, outTradeNo string, sync bool) (*miniback.Order, error)
	UserOrder(ctx context.Context, appid string, userID int64, outTradeNo string, sync bool) (*miniback.Order, error)
	Orders(ctx context.Context, appid string, f miniback.OrderFilter) ([]*miniback.Order, error)
	CloseOrder(ctx context.Context, appid, outTradeNo string) (*miniback.Order, error)
	PayOrder(ctx context.Context, appid string, userID int64, outTradeNo string) (*wechatpay.PayParams, error)
	CreateRefund(ctx context.Context, appid, outTradeNo string, req *miniback.RefundRequest) (*miniback.Refund, error)
	Refund(ctx context.Context, appid, outRefundNo string, sync bool) (*miniback.Refund, error)
	HandleNotification(ctx context.Context, appid string, header http.Header, body []byte) error
}

func (s *Server) payRoutes() {
	if s.Pay == nil {
		return
	}
	a := "/admin/v1/{appid}/pay"
	s.handle("POST "+a+"/orders", s.admin(s.handleCreateOrder))
	s.handle("GET "+a+"/orders", s.admin(s.handleAdminOrders))
	s.handle("GET "+a+"/orders/{out_trade_no}", s.admin(s.handleAdminOrder))
	s.handle("POST "+a+"/orders/{out_trade_no}/close", s.admin(s.handleCloseOrder))
	s.handle("POST "+a+"/orders/{out_trade_no}/refunds", s.admin(s.handleCreateRefund))
	s.handle("GET "+a+"/refunds/{out_refund_no}", s.admin(s.handleRefund))
	m := "/api/v1/{appid}/pay"
	s.handle("GET "+m+"/orders", s.authed(s.handleMyOrders))
	s.handle("GET "+m+"/orders/{out_trade_no}", s.authed(s.handleMyOrder))
	s.handle("POST "+m+"/orders/{out_trade_no}/pay", s.authed(s.handlePayOrder))
	s.handle("POST /wx/pay/notify/{appid}", s.handlePayNotify)
}

// OrderPage is a page of orders, newest first.
type OrderPage struct {
	Orders     []*miniback.Order `json:"orders"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func syncOf(r *http.Request) (bool, error) {
	switch r.URL.Query().Get("sync") {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, miniback.Errorf(miniback.ECodeInvalidRequest, "sync must be true or false")
}

func (s *Server) handleCreateOrder(w http.ResponseWriter, r *http.Request) error {
	var req miniback.OrderRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	o, created, err := s.Pay.CreateOrder(r.Context(), r.PathValue("appid"), &req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, o)
	return nil
}

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request, f miniback.OrderFilter) error {
	cursor, limit, err := page(r)
	if err != nil {
		return err
	}
	f.BeforeSeq, f.Limit = cursor, limit+1
	orders, err := s.Pay.Orders(r.Context(), r.PathValue("appid"), f)
	if err != nil {
		return err
	}
	out := OrderPage{Orders: orders}
	if len(orders) > limit {
		out.Orders = orders[:limit]
		out.NextCursor = strconv.FormatInt(orders[limit-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var orderStatuses = map[string]bool{"": true, miniback.OrderCreated: true, miniback.OrderPaying: true,
	miniback.OrderPaid: true, miniback.OrderClosed: true, miniback.OrderRefunded: true}

func (s *Server) handleAdminOrders(w http.ResponseWriter, r *http.Request) error {
	st := r.URL.Query().Get("status")
	if !orderStatuses[st] {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "status must be created, paying, paid, closed or refunded")
	}
	return s.listOrders(w, r, miniback.OrderFilter{Status: st})
}

func (s *Server) handleAdminOrder(w http.ResponseWriter, r *http.Request) error {
	sync, err := syncOf(r)
	if err != nil {
		return err
	}
	o, err := s.Pay.Order(r.Context(), r.PathValue("appid"), r.PathValue("out_trade_no"), sync)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (s *Server) handleCloseOrder(w http.ResponseWriter, r *http.Request) error {
	o, err := s.Pay.CloseOrder(r.Context(), r.PathValue("appid"), r.PathValue("out_trade_no"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (s *Server) handleCreateRefund(w http.ResponseWriter, r *http.Request) error {
	var req miniback.RefundRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	rf, err := s.Pay.CreateRefund(r.Context(), r.PathValue("appid"), r.PathValue("out_trade_no"), &req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, rf)
	return nil
}

func (s *Server) handleRefund(w http.ResponseWriter, r *http.Request) error {
	sync, err := syncOf(r)
	if err != nil {
		return err
	}
	rf, err := s.Pay.Refund(r.Context(), r.PathValue("appid"), r.PathValue("out_refund_no"), sync)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rf)
	return nil
}

func (s *Server) handleMyOrders(w http.ResponseWriter, r *http.Request) error {
	return s.listOrders(w, r, miniback.OrderFilter{UserID: miniback.AuthFrom(r.Context()).UserID})
}

func (s *Server) handleMyOrder(w http.ResponseWriter, r *http.Request) error {
	sync, err := syncOf(r)
	if err != nil {
		return err
	}
	a := miniback.AuthFrom(r.Context())
	o, err := s.Pay.UserOrder(r.Context(), a.AppID, a.UserID, r.PathValue("out_trade_no"), sync)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (s *Server) handlePayOrder(w http.ResponseWriter, r *http.Request) error {
	a := miniback.AuthFrom(r.Context())
	p, err := s.Pay.PayOrder(r.Context(), a.AppID, a.UserID, r.PathValue("out_trade_no"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// handlePayNotify receives a WeChat Pay notification. The raw body is
// handed over untouched: the signature covers its exact bytes.
func (s *Server) handlePayNotify(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wechatpay.MaxNotificationBytes))
	if err != nil {
		return miniback.Errorf(miniback.ECodeTooLarge, "the notification is too large")
	}
	if err := s.Pay.HandleNotification(r.Context(), r.PathValue("appid"), r.Header, body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
