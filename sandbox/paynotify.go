package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// notifySchedule is WeChat Pay's redelivery schedule after a failed
// notification: 15 retries over 24 h 4 min, scaled by Config.PayTimeScale.
var notifySchedule = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 60 * time.Minute,
	3 * time.Hour, 3 * time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

// Notification faults: how the first delivery of the next notification is
// spoiled (later deliveries of it are good).
const (
	NotifyProbe     = "probe"     // Wechatpay-Signature prefixed WECHATPAY/SIGNTEST/
	NotifyAmount    = "amount"    // correctly signed, but the amount is off by one fen
	NotifySignature = "signature" // a wrong signature
	NotifyStale     = "stale"     // signed ten minutes ago
	NotifySerial    = "serial"    // signed, but under an unknown Wechatpay-Serial
)

// Delivery is one attempt to deliver a notification, as recorded by the
// sandbox. Status is the backend's HTTP status (0 for a network error or
// a dropped notification).
type Delivery struct {
	NotificationID string    `json:"id"`
	EventType      string    `json:"event_type"`
	OutTradeNo     string    `json:"out_trade_no,omitempty"`
	OutRefundNo    string    `json:"out_refund_no,omitempty"`
	Attempt        int       `json:"attempt"`
	Fault          string    `json:"fault,omitempty"` // a Notify* value, or "dropped"
	Status         int       `json:"status"`
	At             time.Time `json:"at"`
}

// notice is one notification and what it is about.
type notice struct {
	id, appid, url, event, summary, origType string
	outTradeNo, outRefundNo                  string
	apiV3Key                                 string
	resource                                 any
	spoiled                                  any // the resource with the amount changed
	withCert                                 bool
}

// sendNotice delivers n in the background until the backend answers 2xx
// or the schedule ends, unless an injected fault drops it.
func (s *Server) sendNotice(n *notice) {
	s.pay.mu.Lock()
	fault := ""
	if s.pay.dropNotify > 0 {
		s.pay.dropNotify--
		fault = "dropped"
	} else if len(s.pay.notifyFaults) > 0 {
		fault, s.pay.notifyFaults = s.pay.notifyFaults[0], s.pay.notifyFaults[1:]
	}
	s.pay.mu.Unlock()
	if fault == "dropped" {
		s.recordDelivery(n, 1, fault, 0)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for attempt := 1; attempt <= len(notifySchedule)+1; attempt++ {
			f := ""
			if attempt == 1 {
				f = fault
			}
			status := s.deliver(n, f)
			s.recordDelivery(n, attempt, f, status)
			if status >= 200 && status < 300 || attempt > len(notifySchedule) {
				return
			}
			t := time.NewTimer(s.scaled(notifySchedule[attempt-1]))
			select {
			case <-s.bg.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
}

func (s *Server) scaled(d time.Duration) time.Duration {
	if s.cfg.PayTimeScale <= 0 {
		return d
	}
	return time.Duration(float64(d) * s.cfg.PayTimeScale)
}

// deliver POSTs one attempt of n, spoiled by fault, and returns the status.
func (s *Server) deliver(n *notice, fault string) int {
	body, err := s.noticeBody(n, fault == NotifyAmount)
	if err != nil {
		s.log.Error("sandbox: build notification", "err", err)
		return 0
	}
	req, err := http.NewRequestWithContext(s.bg, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	if err := s.signNotice(req, n, body, fault); err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(s.bg, 5*time.Second) // WeChat Pay waits 5 s
	defer cancel()
	resp, err := s.client.Do(req.WithContext(ctx))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (s *Server) noticeBody(n *notice, spoil bool) ([]byte, error) {
	res := n.resource
	if spoil {
		res = n.spoiled
	}
	plain, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	nonce := randAlnum(12)
	ct, err := gcmSeal([]byte(n.apiV3Key), nonce, n.origType, plain)
	if err != nil {
		return nil, err
	}
	env := notifyEnvelope{ID: n.id, CreateTime: s.now().In(beijing).Format(time.RFC3339), ResourceType: "encrypt-resource",
		EventType: n.event, Summary: n.summary,
		Resource: notifyResource{OriginalType: n.origType, Algorithm: "AEAD_AES_256_GCM", Ciphertext: ct, AssociatedData: n.origType, Nonce: nonce}}
	return json.Marshal(env)
}

func (s *Server) signNotice(req *http.Request, n *notice, body []byte, fault string) error {
	p, err := s.platform()
	if err != nil {
		return err
	}
	at := s.now()
	if fault == NotifyStale {
		at = at.Add(-10 * time.Minute)
	}
	ts, nonce := strconv.FormatInt(at.Unix(), 10), randAlnum(32)
	sig := rsaSign(p.key, ts+"\n"+nonce+"\n"+string(body)+"\n")
	serial := p.publicKeyID
	if n.withCert {
		serial = p.certSerial
	}
	switch fault {
	case NotifyProbe:
		sig = "WECHATPAY/SIGNTEST/" + sig
	case NotifySignature:
		sig = rsaSign(p.key, ts+"\n"+nonce+"\n"+string(body)+"x\n")
	case NotifySerial:
		serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Mozilla/4.0")
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", serial)
	h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	return nil
}

func (s *Server) recordDelivery(n *notice, attempt int, fault string, status int) {
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	s.pay.deliveries = append(s.pay.deliveries, Delivery{NotificationID: n.id, EventType: n.event, OutTradeNo: n.outTradeNo,
		OutRefundNo: n.outRefundNo, Attempt: attempt, Fault: fault, Status: status, At: s.now()})
}

// Deliveries returns the notification deliveries about outTradeNo (or,
// when outRefundNo is set, about that refund), oldest first.
func (s *Server) Deliveries(outTradeNo, outRefundNo string) []Delivery {
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	var out []Delivery
	for _, d := range s.pay.deliveries {
		if (outRefundNo != "" && d.OutRefundNo == outRefundNo) || (outRefundNo == "" && d.OutTradeNo == outTradeNo && d.OutRefundNo == "") {
			out = append(out, d)
		}
	}
	return out
}

// newNoticeID is a notification id: a UUID-like string of 36 characters.
func newNoticeID() string {
	b := randBytes(16)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
