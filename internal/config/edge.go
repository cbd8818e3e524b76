package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Server configures who may speak for the client.
type Server struct {
	// TrustedProxies lists the addresses or CIDRs of proxies allowed to set
	// X-Forwarded-For; for any other peer the client is RemoteAddr.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Gateway lists the routes to the team's own services.
type Gateway struct {
	Routes []Route `yaml:"routes"`
}

// Route is one gateway route (SPEC §14.1).
type Route struct {
	Prefix         string        `yaml:"prefix"`
	Upstreams      []string      `yaml:"upstreams"`
	StripPrefix    bool          `yaml:"strip_prefix"`
	Auth           string        `yaml:"auth"`
	Timeout        time.Duration `yaml:"timeout"`
	Retries        int           `yaml:"retries"`
	MaxBody        ByteSize      `yaml:"max_body"`
	HealthPath     string        `yaml:"health_path"`
	HealthInterval time.Duration `yaml:"health_interval"`
}

// Route defaults.
const (
	DefaultRouteTimeout   = 30 * time.Second
	DefaultRouteMaxBody   = 1 << 20
	DefaultHealthInterval = 10 * time.Second
)

// Limits are the rate limits; a zero Rate is off.
type Limits struct {
	LoginPerIP  Rate `yaml:"login_per_ip"`
	APIPerUser  Rate `yaml:"api_per_user"`
	APIPerIP    Rate `yaml:"api_per_ip"`
	AdminPerKey Rate `yaml:"admin_per_key"`
	PushPerApp  Rate `yaml:"push_per_app"`
}

// Rate is N requests per Per, written N/s, N/m or N/h; 0 is off.
type Rate struct {
	N   int
	Per time.Duration
}

// IsZero reports whether the limit is off.
func (r Rate) IsZero() bool { return r.N == 0 }

// ParseRate reads "N/s", "N/m", "N/h" or "0".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return Rate{}, nil
	}
	n, unit, ok := strings.Cut(s, "/")
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	count, err := strconv.Atoi(n)
	if !ok || per == 0 || err != nil || count < 0 {
		return Rate{}, fmt.Errorf("not a rate")
	}
	return Rate{N: count, Per: per}, nil
}

// ByteSize is a size in bytes, written as a number or with a unit (KiB,
// MiB, GiB, KB, MB, GB).
type ByteSize int64

// ParseByteSize reads "1MiB", "512KiB", "1048576".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("not a size")
	}
	return ByteSize(n * mult), nil
}

// Breaker configures every circuit breaker (gateway upstreams and WeChat
// hosts).
type Breaker struct {
	Failures int           `yaml:"failures"`
	Ratio    float64       `yaml:"ratio"`
	MinCalls int           `yaml:"min_calls"`
	Window   time.Duration `yaml:"window"`
	OpenFor  time.Duration `yaml:"open_for"`
	Probes   int           `yaml:"probes"`
}

// TLS configures HTTPS on listen.
type TLS struct {
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	MinVersion string `yaml:"min_version"`
}

// fillRoutes applies the per-route defaults.
func (c *Config) fillRoutes() {
	for i := range c.Gateway.Routes {
		r := &c.Gateway.Routes[i]
		if r.Auth == "" {
			r.Auth = "required"
		}
		if r.Timeout == 0 {
			r.Timeout = DefaultRouteTimeout
		}
		if r.MaxBody == 0 {
			r.MaxBody = DefaultRouteMaxBody
		}
		if r.HealthInterval == 0 {
			r.HealthInterval = DefaultHealthInterval
		}
	}
}

func (c *Config) validateEdge() error {
	for i, p := range c.Server.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			return &Error{Key: fmt.Sprintf("server.trusted_proxies[%d]", i), Msg: "must be an IP address or CIDR"}
		}
	}
	for i := range c.Gateway.Routes {
		if err := c.validateRoute(i); err != nil {
			return err
		}
	}
	b := c.Breaker
	switch {
	case b.Failures < 1:
		return &Error{Key: "breaker.failures", Msg: "must be at least 1"}
	case b.Ratio <= 0 || b.Ratio > 1:
		return &Error{Key: "breaker.ratio", Msg: "must be in (0, 1]"}
	case b.MinCalls < 1:
		return &Error{Key: "breaker.min_calls", Msg: "must be at least 1"}
	case b.Window <= 0:
		return &Error{Key: "breaker.window", Msg: "must be positive"}
	case b.OpenFor <= 0:
		return &Error{Key: "breaker.open_for", Msg: "must be positive"}
	case b.Probes < 1:
		return &Error{Key: "breaker.probes", Msg: "must be at least 1"}
	}
	return c.validateTLS()
}

// ParsePrefix reads an IP address (a /32 or /128) or a CIDR.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (c *Config) validateRoute(i int) error {
	r := c.Gateway.Routes[i]
	key := fmt.Sprintf("gateway.routes[%d]", i)
	switch {
	case !strings.HasPrefix(r.Prefix, "/") || !strings.HasSuffix(r.Prefix, "/") || r.Prefix == "/":
		return &Error{Key: key + ".prefix", Msg: `must start and end with "/" and not be "/"`}
	case strings.ContainsAny(r.Prefix, "?#%*") || strings.Contains(r.Prefix, "//"):
		return &Error{Key: key + ".prefix", Msg: "must be a plain path"}
	case len(r.Upstreams) == 0:
		return &Error{Key: key + ".upstreams", Msg: "at least one upstream is required"}
	case r.Auth != "required" && r.Auth != "optional" && r.Auth != "none":
		return &Error{Key: key + ".auth", Msg: "must be required, optional or none"}
	case r.Timeout < 0:
		return &Error{Key: key + ".timeout", Msg: "must be positive"}
	case r.Retries < 0 || r.Retries > 10:
		return &Error{Key: key + ".retries", Msg: "must be 0-10"}
	case r.MaxBody < 0:
		return &Error{Key: key + ".max_body", Msg: "must be positive"}
	case r.HealthPath != "" && !strings.HasPrefix(r.HealthPath, "/"):
		return &Error{Key: key + ".health_path", Msg: `must start with "/"`}
	case r.HealthInterval < 0:
		return &Error{Key: key + ".health_interval", Msg: "must be positive"}
	}
	for _, seg := range strings.Split(strings.Trim(r.Prefix, "/"), "/") {
		if strings.ContainsAny(seg, "{}") && seg != "{appid}" {
			return &Error{Key: key + ".prefix", Msg: "the only wildcard is a whole {appid} segment"}
		}
	}
	if r.Auth != "none" && RouteAppIDSegment(r.Prefix, c.appIDs()) < 0 {
		return &Error{Key: key + ".auth", Msg: "routes with auth need {appid} or a configured appid in the prefix (/api/v1/{appid}/…)"}
	}
	for j, u := range r.Upstreams {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" || pu.User != nil {
			return &Error{Key: fmt.Sprintf("%s.upstreams[%d]", key, j), Msg: "must be an http(s) URL without query or credentials"}
		}
		if _, _, err := net.SplitHostPort(pu.Host); err != nil && strings.Contains(pu.Host, "]:") {
			return &Error{Key: fmt.Sprintf("%s.upstreams[%d]", key, j), Msg: "has a bad host"}
		}
	}
	for j := range i {
		if c.Gateway.Routes[j].Prefix == r.Prefix {
			return &Error{Key: key + ".prefix", Msg: fmt.Sprintf("is also gateway.routes[%d].prefix", j)}
		}
	}
	return nil
}

func (c *Config) appIDs() map[string]bool {
	ids := map[string]bool{}
	for _, a := range c.Apps {
		ids[a.AppID] = true
	}
	return ids
}

// RouteAppIDSegment returns the index of the path segment of prefix (split
// on "/" without the leading one) that names the app: a {appid} segment, or
// a configured appid right after /api/v1/. It returns -1 when there is none.
func RouteAppIDSegment(prefix string, apps map[string]bool) int {
	segs := strings.Split(strings.Trim(prefix, "/"), "/")
	for i, s := range segs {
		if s == "{appid}" {
			return i
		}
	}
	if len(segs) >= 3 && segs[0] == "api" && segs[1] == "v1" && apps[segs[2]] {
		return 2
	}
	return -1
}

func (c *Config) validateTLS() error {
	t := c.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		return &Error{Key: "tls.key_file", Msg: "tls.cert_file and tls.key_file must be set together"}
	}
	if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
		return &Error{Key: "tls.min_version", Msg: "must be 1.2 or 1.3"}
	}
	return nil
}
