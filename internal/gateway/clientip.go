package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the peers trusted to say who the client is in
// X-Forwarded-For. The zero value trusts nobody.
type Proxies []netip.Prefix

// trusts reports whether addr is one of the proxies.
func (p Proxies) trusts(addr netip.Addr) bool {
	for _, pr := range p {
		if pr.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// peer is the address of the TCP peer of r.
func peer(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// ClientIP is the client's address: RemoteAddr, unless the peer is a
// trusted proxy, in which case X-Forwarded-For is read from the right,
// skipping trusted proxies, and the first other address is the client.
// An entry that is not an address stops the walk (a client wrote it).
func (p Proxies) ClientIP(r *http.Request) string {
	addr := peer(r)
	if !p.trusts(addr) {
		return addr.String()
	}
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break
		}
		addr = a.Unmap()
		if !p.trusts(addr) {
			break
		}
	}
	return addr.String()
}

// forwardedFor lists the X-Forwarded-For entries of every such header.
func forwardedFor(h http.Header) []string {
	var out []string
	for _, v := range h.Values("X-Forwarded-For") {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}
