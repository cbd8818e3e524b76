package wxcrypto

import (
	"strings"
	"testing"
)

func TestVerifySignatures(t *testing.T) {
	const (
		token = "AAAAA"
		ts    = "1714036504"
		nonce = "1514711492"
		sig   = "f464b24fc39322e44b38aa78f5edd27bd1441696"
	)
	raw := `{"nickName":"Band"}`
	rawSig := RawDataSignature(raw, "HyVFkGl5F5OQWJZZaNzBBg==")
	body := []byte(`{"foo":"bar"}`)
	login := LoginStateSignature("o0q0otL8aEzpcZL/FT9WsQ==", body)
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"signature ok", VerifySignature(token, ts, nonce, sig), true},
		{"signature upper case ok", VerifySignature(token, ts, nonce, strings.ToUpper(sig)), true},
		{"signature wrong token", VerifySignature("AAAAB", ts, nonce, sig), false},
		{"signature truncated", VerifySignature(token, ts, nonce, sig[:39]), false},
		{"signature empty", VerifySignature(token, ts, nonce, ""), false},
		{"signature swapped fields still sorted", VerifySignature(nonce, token, ts, sig), true},
		{"msg signature ok", VerifyMsgSignature(token, ts, nonce, "enc", MsgSignature(token, ts, nonce, "enc")), true},
		{"msg signature other encrypt", VerifyMsgSignature(token, ts, nonce, "enc2", MsgSignature(token, ts, nonce, "enc")), false},
		{"rawdata ok", VerifyRawDataSignature(raw, "HyVFkGl5F5OQWJZZaNzBBg==", rawSig), true},
		{"rawdata other key", VerifyRawDataSignature(raw, "HyVFkGl5F5OQWJZZaNzBBh==", rawSig), false},
		{"rawdata reformatted", VerifyRawDataSignature(`{"nickName": "Band"}`, "HyVFkGl5F5OQWJZZaNzBBg==", rawSig), false},
		{"login ok", VerifyLoginStateSignature("o0q0otL8aEzpcZL/FT9WsQ==", body, login), true},
		{"login other body", VerifyLoginStateSignature("o0q0otL8aEzpcZL/FT9WsQ==", []byte(`{}`), login), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestSortedSHA1DoesNotModifyInput(t *testing.T) {
	parts := []string{"c", "a", "b"}
	_ = SortedSHA1(parts...)
	if parts[0] != "c" || parts[1] != "a" || parts[2] != "b" {
		t.Fatalf("parts reordered: %v", parts)
	}
}

func TestSortedSHA1ByteWise(t *testing.T) {
	// Byte-wise order puts upper case before lower case and digits first.
	if got, want := SortedSHA1("b", "B", "1"), SortedSHA1("1", "B", "b"); got != want {
		t.Fatalf("order dependence: %s != %s", got, want)
	}
	if got, want := SortedSHA1("1", "B", "b"), RawDataSignature("1Bb", ""); got != want {
		t.Fatalf("SortedSHA1 = %s, want sha1(\"1Bb\") = %s", got, want)
	}
}
