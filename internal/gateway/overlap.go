package gateway

import "strings"

// Overlaps reports whether a gateway route with prefix would share paths
// with one of miniback's own route patterns ("POST /api/v1/{appid}/login",
// "/sandbox/"): either an own route lies under the prefix, or the prefix
// lies under an own subtree pattern (one ending in "/"). Wildcard segments
// ({name}) match any segment. The catch-all "/" pattern is ignored.
func Overlaps(prefix string, patterns []string) (string, bool) {
	ps := splitPath(prefix)
	for _, pat := range patterns {
		path := pat
		if _, p, ok := strings.Cut(pat, " "); ok {
			path = p
		}
		path = strings.TrimSuffix(path, "{$}")
		if path == "/" || path == "" {
			continue
		}
		os := splitPath(path)
		subtree := strings.HasSuffix(path, "/")
		if len(os) >= len(ps) && segmentsMatch(ps, os[:len(ps)]) {
			return pat, true
		}
		if subtree && len(ps) >= len(os) && segmentsMatch(os, ps[:len(os)]) {
			return pat, true
		}
	}
	return "", false
}

func segmentsMatch(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] && !wildcard(a[i]) && !wildcard(b[i]) {
			return false
		}
	}
	return true
}

func wildcard(s string) bool { return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") }
