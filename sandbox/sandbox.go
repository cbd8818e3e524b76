package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// DefaultTemplateID is the subscribe-message template every app gets when
// its App.Templates is empty. Its keywords are DefaultTemplateKeywords.
const DefaultTemplateID = "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc"

// DefaultPage is the only page of an app whose App.Pages is empty.
const DefaultPage = "pages/index/index"

// DefaultTemplateKeywords returns the keyword names of DefaultTemplateID:
// thing1, number2, date3 and phrase4.
func DefaultTemplateKeywords() []string {
	return []string{"thing1", "number2", "date3", "phrase4"}
}

// App is one mini program the sandbox knows. Secret is what /cgi-bin/token,
// /cgi-bin/stable_token and /sns/jscode2session check; Token, AESKey and
// MsgFormat ("JSON" or "XML", default "JSON") shape the pushes sent to
// PushURL; PushMode is the mode of the pushes the sandbox makes up itself
// (wxa_media_check) and of /sandbox/push requests without a mode. Pages are the published pages (default [DefaultPage]); Templates
// maps a subscribe-message template id to its keyword names such as
// "thing1" (default {DefaultTemplateID: DefaultTemplateKeywords()}).
type App struct {
	AppID     string
	Secret    string
	Token     string
	AESKey    string
	MsgFormat string
	PushURL   string
	PushMode  string  // ModePlain, ModeCompat or ModeSafe; default safe with an AESKey, else plain
	Pay       *PayApp // WeChat Pay merchant; nil: the app has no pay
	Pages     []string
	Templates map[string][]string
}

// Config configures a Server. Zero durations and nil fields take the
// defaults given on each field.
type Config struct {
	Apps       []App
	TokenTTL   time.Duration    // access-token lifetime; default 7200 s
	CodeTTL    time.Duration    // wx.login and phone-code lifetime; default 5 min
	Now        func() time.Time // clock; default time.Now
	Logger     *slog.Logger     // default: discard
	HTTPClient *http.Client     // used for pushes; default http.DefaultClient
	RiskyWords []string         // msg_sec_check words; default DefaultRiskyWords()
	MediaTTL   time.Duration    // temporary media lifetime; default 3 days

	// Memory bounds, oldest forgotten first (bound.go): outstanding codes
	// of each kind, users per app, media bytes, and sent messages kept
	// for GET /sandbox/sent. Zero takes the Default… constant.
	MaxCodes      int
	MaxUsers      int
	MaxMediaBytes int64
	MaxSent       int
	// PayTimeScale multiplies WeChat Pay's notification retry delays
	// (15 s, 15 s, 30 s, 3 min, …); default 1.
	PayTimeScale float64
	// PayPlatformKey is the WeChat Pay platform key; nil: generated on
	// first use.
	PayPlatformKey *rsa.PrivateKey
}

// DefaultRiskyWords returns the words that make msg_sec_check answer risky
// when Config.RiskyWords is nil.
func DefaultRiskyWords() []string { return []string{"risky", "违法"} }

// Server is the emulator. It implements http.Handler, keeps all state in
// memory and is safe for concurrent use.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	log    *slog.Logger
	client *http.Client
	bg     context.Context // background pushes; Close cancels it
	stop   context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	apps       map[string]*appState
	tokens     map[string]*tokenRecord
	codes      map[string]*loginCode
	phoneCodes map[string]*phoneCode
	calls      map[string]int
	faults     []*faultState
	media      map[string]*mediaItem
	sent       []SentMessage
	cube       datacubeState

	codeOrder, phoneOrder, mediaOrder keyQueue // insertion order, for the bounds
	mediaBytes                        int64
	pay                               payWorld
}

// New returns a Server for cfg. Apps with an empty AppID are ignored.
func New(cfg Config) *Server {
	cfg = withDefaults(cfg)
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		client:     cfg.HTTPClient,
		apps:       make(map[string]*appState),
		tokens:     make(map[string]*tokenRecord),
		codes:      make(map[string]*loginCode),
		phoneCodes: make(map[string]*phoneCode),
		calls:      make(map[string]int),
		media:      make(map[string]*mediaItem),
	}
	for _, a := range cfg.Apps {
		if a.AppID != "" {
			st := newAppState(a)
			st.maxUsers = cfg.MaxUsers
			s.apps[a.AppID] = st
		}
	}
	s.pay.merchantKeys = make(map[string]*rsa.PrivateKey)
	s.pay.orders = make(map[string]*payOrder)
	s.pay.byTransaction = make(map[string]*payOrder)
	s.pay.refunds = make(map[string]*payRefund)
	s.bg, s.stop = context.WithCancel(context.Background())
	s.mux = s.routes()
	return s
}

func withDefaults(cfg Config) Config {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 7200 * time.Second
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = 5 * time.Minute
	}
	if cfg.MediaTTL <= 0 {
		cfg.MediaTTL = 72 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.RiskyWords == nil {
		cfg.RiskyWords = DefaultRiskyWords()
	}
	if cfg.MaxCodes <= 0 {
		cfg.MaxCodes = DefaultMaxCodes
	}
	if cfg.MaxUsers <= 0 {
		cfg.MaxUsers = DefaultMaxUsers
	}
	if cfg.MaxMediaBytes <= 0 {
		cfg.MaxMediaBytes = DefaultMaxMediaBytes
	}
	if cfg.MaxSent <= 0 {
		cfg.MaxSent = DefaultMaxSent
	}
	return cfg
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// ServeHTTP counts the call, applies any injected fault for the path and
// then serves the WeChat API or control route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := s.recordCall(r.URL.Path)
	if f != nil && !s.applyFault(w, r, f) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Calls returns how many requests for path the server received, faulted
// ones included. It is safe for concurrent use.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// handlerFunc is a handler that returns its failure; adapt writes it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// wxError is a WeChat API error: HTTP 200 with {"errcode","errmsg"}.
type wxError struct {
	Code int
	Msg  string
}

func (e *wxError) Error() string { return fmt.Sprintf("wechat errcode %d: %s", e.Code, e.Msg) }

func wxErr(code int, msg string) error { return &wxError{Code: code, Msg: msg} }

// controlError is a failure of a /sandbox/ route: {"error"} with Status.
type controlError struct {
	Status int
	Msg    string
}

func (e *controlError) Error() string { return fmt.Sprintf("sandbox: %d %s", e.Status, e.Msg) }

func ctlErr(status int, format string, args ...any) error {
	return &controlError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

func (s *Server) adapt(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var we *wxError
		var ce *controlError
		switch {
		case errors.As(err, &we):
			writeWXError(w, we.Code, we.Msg)
		case errors.As(err, &ce):
			writeJSON(w, ce.Status, map[string]string{"error": ce.Msg})
		default:
			s.log.Error("sandbox: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		}
	})
}

// writeWXError writes a WeChat error envelope. Like the real platform, the
// errmsg ends in a request id, so clients that compare errmsg break here too.
func writeWXError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, http.StatusOK, map[string]any{"errcode": code, "errmsg": msg + ", rid: " + newRID()})
}

func newRID() string {
	b := randBytes(12)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:16] + "-" + h[16:]
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24).
	return b
}
