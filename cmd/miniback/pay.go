package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/pay"
	"github.com/miniback/miniback/sandbox"
	"github.com/miniback/miniback/wechatpay"
)

// sandboxMerchantSerial is the merchant certificate serial of sandbox apps
// configured without one.
const sandboxMerchantSerial = "5A0000000000000000000000000000000000SBX"

// openPay builds the pay flow for the apps with a pay block: one WeChat Pay
// client each, against WeChat Pay or the embedded sandbox (self is this
// server's own address). Its routes answer not_found for apps without pay.
// It returns nil when the database engine does not store orders and no
// app asks for pay.
func (m *Main) openPay(self string) (*pay.Service, error) {
	cfg := m.Config
	apps := map[string]*pay.App{}
	// WeChat Pay's host gets circuit breakers of its own (SPEC §14.2).
	breakers, err := weChatTransport(cfg, m.Metrics, m.Logger.With("component", "wechatpay"))
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: breakers}
	sandboxed := cfg.WeChat.PayAPIBase == config.APIBaseSandbox
	base := cfg.WeChat.PayAPIBase
	if sandboxed {
		base = self
	}
	for i, a := range cfg.Apps {
		if !a.Pay.Configured() {
			continue
		}
		key := fmt.Sprintf("apps[%d].pay", i)
		p, err := m.payApp(a, key, base, self, hc, sandboxed)
		if err != nil {
			return nil, err
		}
		apps[a.AppID] = p
	}
	if m.DB.Pay == nil {
		if len(apps) == 0 {
			return nil, nil
		}
		if cfg.Sandbox { // the demo app's pay is a bonus, not a requirement
			m.Logger.Warn("WeChat Pay is off: this database engine does not store orders yet")
			return nil, nil
		}
		return nil, &config.Error{Key: "database.url", Msg: "WeChat Pay needs a database engine that stores orders"}
	}
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "miniback_pay_notifications_total",
		Help: "WeChat Pay notifications received, by result (ok, bad_signature, bad_body, mismatch, unknown, error)."}, []string{"result"})
	m.Registry.MustRegister(counter)
	svc := &pay.Service{Store: m.DB.Pay, Users: m.DB.Users, State: m.State, Apps: apps,
		Logger: m.Logger.With("component", "pay"), Notifications: counter, Instance: instanceID(), Queue: m.Queue}
	if m.tunePay != nil {
		m.tunePay(svc)
	}
	return svc, nil
}

func (m *Main) payApp(a config.App, key, base, self string, hc *http.Client, sandboxed bool) (*pay.App, error) {
	pk, err := m.merchantKey(a, key, sandboxed)
	if err != nil {
		return nil, err
	}
	serial := a.Pay.SerialNo
	if serial == "" {
		serial = sandboxMerchantSerial
	}
	opts := []wechatpay.Option{wechatpay.WithBaseURL(base), wechatpay.WithHTTPClient(hc), wechatpay.WithTimeout(m.Config.WeChat.Timeout)}
	switch {
	case a.Pay.PublicKey != "":
		pub, _ := wechatpay.ParsePublicKey([]byte(a.Pay.PublicKey)) // checked by config.Validate
		opts = append(opts, wechatpay.WithPublicKey(a.Pay.PublicKeyID, pub))
	case sandboxed && m.Sandbox != nil:
		pub, id, _, err := m.Sandbox.PayPublicKey()
		if err != nil {
			return nil, err
		}
		opts = append(opts, wechatpay.WithPublicKey(id, pub))
	}
	client, err := wechatpay.NewClient(a.Pay.MchID, serial, pk, []byte(a.Pay.APIv3Key), opts...)
	if err != nil {
		return nil, &config.Error{Key: key, Msg: "cannot make a WeChat Pay client", Err: err}
	}
	notify := a.Pay.NotifyURL
	if notify == "" {
		notify = self + "/wx/pay/notify/" + url.PathEscape(a.AppID)
	}
	webhook := a.Pay.WebhookURL
	if m.Sandbox != nil && sandboxed {
		m.Sandbox.SetPayApp(a.AppID, &sandbox.PayApp{MchID: a.Pay.MchID, APIv3Key: a.Pay.APIv3Key, MerchantKey: &pk.PublicKey,
			MerchantSerial: serial, WebhookSecret: a.Pay.WebhookSecret})
		if webhook == "" { // the sandbox's receiver shows the events (GET /sandbox/pay/webhook)
			webhook = self + "/sandbox/pay/webhook"
		}
	}
	return &pay.App{AppID: a.AppID, MchID: a.Pay.MchID, NotifyURL: notify, WebhookURL: webhook,
		WebhookSecret: a.Pay.WebhookSecret, Client: client, CertMode: a.Pay.PublicKey == "" && !sandboxed}, nil
}

// merchantKey is the app's merchant API key, or, for a sandbox app
// without one, a key generated once into data_dir.
func (m *Main) merchantKey(a config.App, key string, sandboxed bool) (*rsa.PrivateKey, error) {
	if a.Pay.PrivateKey != "" {
		pk, err := wechatpay.ParsePrivateKey([]byte(a.Pay.PrivateKey))
		if err != nil {
			return nil, &config.Error{Key: key + ".private_key", Msg: "must be an RSA 2048 private key in PKCS#8 PEM"}
		}
		return pk, nil
	}
	if !sandboxed {
		return nil, &config.Error{Key: key + ".private_key", Msg: "is required"}
	}
	return loadOrCreateMerchantKey(filepath.Join(m.Config.DataDir, "pay_key_"+a.AppID+".pem"))
}

func loadOrCreateMerchantKey(path string) (*rsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		return wechatpay.ParsePrivateKey(raw)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreateMerchantKey(path) // another process won the race
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return nil, err
	}
	return pk, nil
}

// instanceID names this process in leases.
func instanceID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), wechatpay.NewNonce()[:8])
}

// sandboxPayApp is the merchant the sandbox plays WeChat Pay for: the
// public half of the configured key checks its signatures (without one,
// the sandbox generates a key; serve replaces it with its own).
func sandboxPayApp(p config.Pay) *sandbox.PayApp {
	if !p.Configured() {
		return nil
	}
	sp := &sandbox.PayApp{MchID: p.MchID, APIv3Key: p.APIv3Key, MerchantSerial: p.SerialNo, WebhookSecret: p.WebhookSecret}
	if k, err := wechatpay.ParsePrivateKey([]byte(p.PrivateKey)); err == nil {
		sp.MerchantKey = &k.PublicKey
	}
	return sp
}
