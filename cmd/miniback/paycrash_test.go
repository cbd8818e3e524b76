package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miniback/miniback/sandbox"
)

// TestKill9BetweenWeChatPayAndDatabase kills miniback with SIGKILL while
// WeChat Pay (a sandbox in another process's place, here the test's) is
// acting on its prepay, then on its refund, and restarts it: the order is
// prepaid once (the retry gets the same prepay_id), paid once, refunded
// once, and nothing is lost.
func TestKill9BetweenWeChatPayAndDatabase(t *testing.T) {
	const appid, mchid, apiKey = "wxcrash0000000001", "1900000109", "0123456789abcdef0123456789abcdef"
	dir := t.TempDir()
	merchant, _ := rsa.GenerateKey(rand.Reader, 2048)
	sb := sandbox.New(sandbox.Config{PayTimeScale: 1000, Apps: []sandbox.App{{AppID: appid, Secret: "crash-secret",
		Pay: &sandbox.PayApp{MchID: mchid, APIv3Key: apiKey, MerchantKey: &merchant.PublicKey, MerchantSerial: "MSERIAL1"}}}})
	srv := httptest.NewServer(sb)
	defer sb.Close()
	defer srv.Close()
	pub, keyID, _, err := sb.PayPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(merchant)
	pubDER, _ := x509.MarshalPKIXPublicKey(pub)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := write("apiclient_key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	pubFile := write("pub_key.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	addr := freeAddr(t)
	cfgFile := write("miniback.yaml", fmt.Appendf(nil, `listen: %q
data_dir: %q
wechat:
  api_base: %q
  pay_api_base: %q
  timeout: 10s
admin:
  api_keys: [%q]
apps:
  - appid: %s
    secret: crash-secret
    pay:
      mchid: %q
      serial_no: MSERIAL1
      private_key_file: %q
      apiv3_key: %q
      public_key_id: %q
      public_key_file: %q
      notify_url: https://pay.example.test/wx/pay/notify/%s
`, addr, filepath.Join(dir, "data"), srv.URL, srv.URL, adminKey, appid, mchid, keyFile, apiKey, keyID, pubFile, appid))
	// Notifications go nowhere reachable: the order is healed by queries.
	if err := sb.InjectPayFault(sandbox.PayFault{DropNotify: 100}); err != nil {
		t.Fatal(err)
	}

	p := startProcess(t, cfgFile, addr)
	login := loginProcess(t, p.base, srv.URL, appid)
	order := map[string]any{"user_id": login.User.ID, "description": "survive", "amount": map[string]any{"total": 500}, "out_trade_no": "order_kill_0001"}
	if st, body := adminDo(t, "POST", p.base+"/admin/v1/"+appid+"/pay/orders", order); st != 201 {
		t.Fatalf("create: %d %v", st, body)
	}

	// Kill while WeChat Pay holds the prepay: it creates the order anyway.
	if err := sb.InjectPayFault(sandbox.PayFault{Path: "/v3/pay/transactions/jsapi", DelayMS: 2000}); err != nil {
		t.Fatal(err)
	}
	go userDo(p.base+"/api/v1/"+appid+"/pay/orders/order_kill_0001/pay", login.AccessToken)
	waitFor(t, func() bool { return sb.Calls("/v3/pay/transactions/jsapi") == 1 })
	kill(t, p)
	waitFor(t, func() bool { return sb.TradeState(mchid, "order_kill_0001") == "NOTPAY" }) // WeChat Pay acted
	p = startProcess(t, cfgFile, addr)
	st, args := userDo(p.base+"/api/v1/"+appid+"/pay/orders/order_kill_0001/pay", login.AccessToken)
	if st != 200 || args["package"] == nil {
		t.Fatalf("pay after restart: %d %v", st, args)
	}
	if n := sb.Calls("/v3/pay/transactions/jsapi"); n != 2 {
		t.Fatalf("%d prepay calls, want 2 (one cut off by the kill, one after)", n)
	}
	if _, err := sb.ConfirmPayment(appid, "order_kill_0001", "SUCCESS"); err != nil {
		t.Fatalf("the prepay made before the kill and the one after are not one order: %v", err)
	}
	st, o := adminDo(t, "GET", p.base+"/admin/v1/"+appid+"/pay/orders/order_kill_0001?sync=true", nil)
	if st != 200 || o["status"] != "paid" {
		t.Fatalf("after sync: %d %v", st, o)
	}

	// Kill while WeChat Pay holds the refund: the refund is not lost and
	// not made twice.
	if err := sb.InjectPayFault(sandbox.PayFault{Path: "/v3/refund/domestic/refunds", DelayMS: 2000}); err != nil {
		t.Fatal(err)
	}
	go adminDo(t, "POST", p.base+"/admin/v1/"+appid+"/pay/orders/order_kill_0001/refunds", map[string]any{"amount": 200, "out_refund_no": "refund_kill_1"})
	waitFor(t, func() bool { return sb.Calls("/v3/refund/domestic/refunds") == 1 })
	kill(t, p)
	waitFor(t, func() bool { return sb.RefundStatus(mchid, "refund_kill_1") == "PROCESSING" }) // WeChat Pay acted
	p = startProcess(t, cfgFile, addr)
	if st, r := adminDo(t, "POST", p.base+"/admin/v1/"+appid+"/pay/orders/order_kill_0001/refunds", map[string]any{"amount": 200, "out_refund_no": "refund_kill_1"}); st != 202 {
		t.Fatalf("refund again after restart: %d %v", st, r)
	}
	if st, r := adminDo(t, "POST", p.base+"/admin/v1/"+appid+"/pay/orders/order_kill_0001/refunds", map[string]any{"amount": 301}); st != 409 {
		t.Fatalf("over-refund after restart: %d %v", st, r)
	}
	if _, err := sb.SettleRefund(appid, "refund_kill_1", "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	st, r := adminDo(t, "GET", p.base+"/admin/v1/"+appid+"/pay/refunds/refund_kill_1?sync=true", nil)
	_, o = adminDo(t, "GET", p.base+"/admin/v1/"+appid+"/pay/orders/order_kill_0001", nil)
	if st != 200 || r["status"] != "succeeded" || o["refunded"] != float64(200) || o["status"] != "paid" {
		t.Fatalf("after the refund: %d %v, order %v", st, r, o)
	}
}

func kill(t *testing.T, p *process) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

type processLogin struct {
	AccessToken string `json:"access_token"`
	User        struct {
		ID int64 `json:"id"`
	} `json:"user"`
}

func loginProcess(t *testing.T, base, sandboxURL, appid string) processLogin {
	t.Helper()
	_, code := postJSON(t, sandboxURL+"/sandbox/login", map[string]string{"appid": appid, "user": "kim"})
	var l processLogin
	raw, _ := json.Marshal(map[string]any{"code": code["code"]})
	resp, err := http.Post(base+"/api/v1/"+appid+"/login", "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || l.AccessToken == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return l
}

func userDo(url, token string) (int, map[string]any) {
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func adminDo(t *testing.T, method, url string, body any) (int, map[string]any) {
	var rd *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
