package main

import (
	"crypto/sha1"
	"encoding/hex"
	"sort"
	"strings"
)

// sha1Sorted is WeChat's URL-verification signature, written out here so
// the test does not reuse the code under test.
func sha1Sorted(parts []string) string {
	s := append([]string(nil), parts...)
	sort.Strings(s)
	sum := sha1.Sum([]byte(strings.Join(s, "")))
	return hex.EncodeToString(sum[:])
}
