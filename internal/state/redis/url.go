package redis

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrBadURL is wrapped by the error of ParseURL and Open for a redis.url
// they cannot parse; the error text never repeats the URL, which may hold a
// password.
var ErrBadURL = errors.New("redis: malformed URL")

// Topology is how the servers of a URL are arranged.
type Topology int

// The topologies redis.url can name.
const (
	Single   Topology = iota // redis:// or rediss://: one server
	Sentinel                 // redis+sentinel://: a master found through sentinels
	Cluster                  // redis+cluster://: a Redis Cluster
)

// Target is a parsed redis.url.
type Target struct {
	Topology Topology
	TLS      bool     // rediss://
	Addrs    []string // host:port of the server, the sentinels or cluster seeds
	Username string
	Password string
	Master   string // the Sentinel master name
	DB       int    // not for Cluster
}

// ParseURL parses the forms of redis.url:
//
//	redis://[[user]:pass@]host[:6379][/db]
//	rediss://… (the same over TLS)
//	redis+sentinel://[[user]:pass@]h1[:26379],h2,…/MASTERNAME[/db]
//	redis+cluster://[[user]:pass@]h1:7000,h2:7001,…
//
// The error wraps ErrBadURL and never shows the password.
func ParseURL(raw string) (*Target, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("%w: no scheme", ErrBadURL)
	}
	t := &Target{}
	defPort := "6379"
	switch scheme {
	case "redis":
	case "rediss":
		t.TLS = true
	case "redis+sentinel":
		t.Topology, defPort = Sentinel, "26379"
	case "redis+cluster":
		t.Topology = Cluster
	default:
		return nil, fmt.Errorf("%w: scheme must be redis, rediss, redis+sentinel or redis+cluster", ErrBadURL)
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		user, pass, _ := strings.Cut(rest[:i], ":")
		t.Username, t.Password, rest = user, pass, rest[i+1:]
	}
	hosts, path, _ := strings.Cut(rest, "/")
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	for _, h := range strings.Split(hosts, ",") {
		addr, err := hostPort(h, defPort)
		if err != nil {
			return nil, err
		}
		t.Addrs = append(t.Addrs, addr)
	}
	if t.Topology == Single && len(t.Addrs) != 1 {
		return nil, fmt.Errorf("%w: one host expected; use redis+sentinel:// or redis+cluster:// for several", ErrBadURL)
	}
	return t, t.parsePath(path)
}

// parsePath reads [MASTERNAME/][db] from the URL's path.
func (t *Target) parsePath(path string) error {
	parts := strings.Split(path, "/")
	if t.Topology == Sentinel {
		if parts[0] == "" {
			return fmt.Errorf("%w: redis+sentinel:// needs the master name as the path", ErrBadURL)
		}
		t.Master, parts = parts[0], parts[1:]
	}
	if len(parts) > 0 && parts[0] != "" {
		if t.Topology == Cluster {
			return fmt.Errorf("%w: a Redis Cluster has no database number", ErrBadURL)
		}
		db, err := strconv.Atoi(parts[0])
		if err != nil || db < 0 || len(parts) > 1 {
			return fmt.Errorf("%w: the database must be a number", ErrBadURL)
		}
		t.DB = db
	}
	return nil
}

// hostPort checks one host[:port] and adds the default port.
func hostPort(h, defPort string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("%w: empty host", ErrBadURL)
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = h, defPort
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 || host == "" || strings.ContainsAny(host, " :") {
		return "", fmt.Errorf("%w: bad host %q", ErrBadURL, host)
	}
	return net.JoinHostPort(host, port), nil
}
