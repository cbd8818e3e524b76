package load

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The steps a virtual user can take, named as in --mix.
const (
	StepMe      = "me"      // GET /api/v1/{appid}/me
	StepLogin   = "login"   // a new wx.login code, then POST …/login
	StepRefresh = "refresh" // POST …/token/refresh with the user's refresh token
	StepPhone   = "phone"   // a phone-number code, then POST …/me/phone
	StepPush    = "push"    // a signed (and encrypted) push to /wx/portal/{appid}
	StepGateway = "gateway" // GET --gateway-path through miniback's gateway, with the user's token
)

// StepGatewayDirect is the same request sent straight to the upstream
// (--gateway-direct) right after each gateway step, for comparison.
const StepGatewayDirect = "gateway_direct"

// The sandbox calls a step needs first; reported as their own rows.
const (
	stepSandboxCode      = "sandbox_code"       // POST /sandbox/login
	stepSandboxPhoneCode = "sandbox_phone_code" // POST /sandbox/phone-code
)

// stepOrder is the order of rows in every report.
var stepOrder = []string{StepMe, StepLogin, StepRefresh, StepPhone, StepPush, StepGateway, StepGatewayDirect, stepSandboxCode, stepSandboxPhoneCode}

// stepRoutes are the server's route patterns of each step, as /metrics
// labels them.
var stepRoutes = map[string]string{
	StepMe:               "GET /api/v1/{appid}/me",
	StepLogin:            "POST /api/v1/{appid}/login",
	StepRefresh:          "POST /api/v1/{appid}/token/refresh",
	StepPhone:            "POST /api/v1/{appid}/me/phone",
	StepPush:             "POST /wx/portal/{appid}",
	StepGateway:          "/", // gateway requests count under the catch-all route
	stepSandboxCode:      "POST /sandbox/login",
	stepSandboxPhoneCode: "POST /sandbox/phone-code",
}

// futureSteps are named by the contract for flows this build does not
// have yet; asking for them is a usage error that says so.
var futureSteps = map[string]bool{"events": true, "pay": true}

// DefaultMix is the mix of `miniback load` without --mix.
const DefaultMix = "me=20,login=1,refresh=1,phone=1,push=2"

// Mix is the relative weight of each step.
type Mix map[string]int

// ParseMix parses "me=20,login=1". It fails for an unknown step, a weight
// that is not a positive integer, a step named twice, or an empty mix.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, weight, ok := strings.Cut(part, "=")
		if !ok {
			weight = "1"
		}
		name = strings.TrimSpace(name)
		if futureSteps[name] {
			return nil, fmt.Errorf("step %q is not available in this build (known: %s)", name, knownSteps())
		}
		if !isMixStep(name) {
			return nil, fmt.Errorf("unknown step %q (known: %s)", name, knownSteps())
		}
		w, err := strconv.Atoi(strings.TrimSpace(weight))
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("step %q: weight must be a positive integer", name)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("step %q is named twice", name)
		}
		m[name] = w
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("the mix names no step (known: %s)", knownSteps())
	}
	return m, nil
}

func isMixStep(name string) bool {
	switch name {
	case StepMe, StepLogin, StepRefresh, StepPhone, StepPush, StepGateway:
		return true
	}
	return false
}

func knownSteps() string { return "me, login, refresh, phone, push, gateway" }

// String formats m as ParseMix reads it, in report order.
func (m Mix) String() string {
	var parts []string
	for _, name := range stepOrder {
		if w, ok := m[name]; ok {
			parts = append(parts, name+"="+strconv.Itoa(w))
		}
	}
	return strings.Join(parts, ",")
}

// names returns the steps of m, sorted, for deterministic picking.
func (m Mix) names() []string {
	out := make([]string, 0, len(m))
	for name := range m {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Config is one load run. Zero values take the defaults named on each
// field; Validate checks the rest.
type Config struct {
	Target      string        // base URL of the miniback under load, e.g. http://127.0.0.1:8080
	WeChat      string        // base URL of the sandbox the target uses; default Target
	AppID       string        // the app to log users into; default the sandbox-mode demo app
	Users       int           // virtual users; default 10
	Duration    time.Duration // how long to run (each stage, with FindMax); default 10 s
	Rate        float64       // arrivals per second (open model); 0 = closed model
	Mix         Mix           // default DefaultMix
	Timeout     time.Duration // per request; default 10 s
	AllowRemote bool          // accept a target that is not a loopback address

	// The app's push token, EncodingAESKey and format, to sign and encrypt
	// pushes; default the demo app's when AppID is the demo app.
	PushToken, PushAESKey, PushFormat string

	FindMax   bool          // ramp the rate to find one instance's capacity
	SLOP99    time.Duration // with FindMax: the p99 a stage must keep; default 500 ms
	TargetRPS float64       // with FindMax: the rate to size a deployment for

	// GatewayPath is the path the gateway step GETs on Target ({appid} is
	// replaced by AppID); GatewayDirect, when set, is the upstream URL the
	// same request is then sent to directly (step gateway_direct).
	GatewayPath, GatewayDirect string

	Progress   func(Progress) // called about once a second while running; nil: none
	HTTPClient *http.Client   // default: a client tuned for many connections to one host
}

// FlagError is a bad setting: the command exits 2 with it. Flag names the
// command-line flag.
type FlagError struct {
	Flag string
	Msg  string
}

func (e *FlagError) Error() string { return "--" + e.Flag + ": " + e.Msg }

// withDefaults fills the zero fields of c.
func (c Config) withDefaults(demoAppID string, demoPush func() (token, aesKey, format string)) Config {
	if c.WeChat == "" {
		c.WeChat = c.Target
	}
	if c.AppID == "" {
		c.AppID = demoAppID
	}
	if c.Users == 0 {
		c.Users = 10
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Mix == nil {
		c.Mix, _ = ParseMix(DefaultMix)
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.SLOP99 == 0 {
		c.SLOP99 = 500 * time.Millisecond
	}
	if c.PushToken == "" && c.AppID == demoAppID && demoPush != nil {
		c.PushToken, c.PushAESKey, c.PushFormat = demoPush()
	}
	if c.PushFormat == "" {
		c.PushFormat = "JSON"
	}
	c.Target = strings.TrimRight(c.Target, "/")
	c.WeChat = strings.TrimRight(c.WeChat, "/")
	return c
}

// Validate checks c after defaults: URLs that are http(s) and loopback
// (unless AllowRemote), positive users, duration, rate and timeout, and
// the push keys when the mix pushes. The error is a *FlagError.
func (c Config) Validate() error {
	if err := checkURL(c.Target, c.AllowRemote); err != nil {
		return &FlagError{Flag: "target", Msg: err.Error()}
	}
	if err := checkURL(c.WeChat, c.AllowRemote); err != nil {
		return &FlagError{Flag: "wechat", Msg: err.Error()}
	}
	switch {
	case c.Users <= 0:
		return &FlagError{Flag: "users", Msg: "must be a positive number"}
	case c.Duration <= 0:
		return &FlagError{Flag: "duration", Msg: "must be a positive duration such as 10s"}
	case c.Rate < 0:
		return &FlagError{Flag: "rate", Msg: "must be a positive number of arrivals per second"}
	case c.Timeout <= 0:
		return &FlagError{Flag: "timeout", Msg: "must be a positive duration"}
	case c.SLOP99 <= 0:
		return &FlagError{Flag: "slo-p99", Msg: "must be a positive duration"}
	case c.TargetRPS < 0:
		return &FlagError{Flag: "target-rps", Msg: "must be a positive rate"}
	case c.TargetRPS > 0 && !c.FindMax:
		return &FlagError{Flag: "target-rps", Msg: "needs --find-max (the capacity it divides by)"}
	case c.AppID == "" || strings.ContainsAny(c.AppID, "/?#% "):
		return &FlagError{Flag: "appid", Msg: "must be an appid such as wx8d0e5a6b4c3f2a10"}
	}
	if c.Mix[StepPush] > 0 && (c.PushToken == "" || (c.PushAESKey != "" && len(c.PushAESKey) != 43)) {
		return &FlagError{Flag: "token", Msg: "pushes need the app's --token (and its 43-character --aes-key for encrypted pushes)"}
	}
	if c.Mix[StepGateway] > 0 && !strings.HasPrefix(c.GatewayPath, "/") {
		return &FlagError{Flag: "gateway-path", Msg: "the gateway step needs the path of a gateway route, such as /api/v1/{appid}/shop/items"}
	}
	if c.GatewayDirect != "" {
		if err := checkURL(c.GatewayDirect, c.AllowRemote); err != nil {
			return &FlagError{Flag: "gateway-direct", Msg: err.Error()}
		}
	}
	if c.PushFormat != "JSON" && c.PushFormat != "XML" {
		return &FlagError{Flag: "msg-format", Msg: "must be JSON or XML"}
	}
	return nil
}

// checkURL accepts http(s) URLs with a host; the host must be a loopback
// address (or "localhost") unless remote is allowed.
func checkURL(raw string, remote bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http:// or https:// URL such as http://127.0.0.1:8080")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("must be a base URL without user, query or fragment")
	}
	if remote || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address; load against another machine needs --allow-remote", u.Hostname())
}

// isLoopback reports whether host is a loopback IP literal or localhost.
// Other names are not resolved: what they point at may change.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
