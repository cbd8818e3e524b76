package wxcrypto

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
)

// newRand returns a deterministic generator so that every run checks the
// same inputs and a failure reproduces.
func newRand() *rand.Rand { return rand.New(rand.NewPCG(20261121, 1)) }

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sizes returns the message lengths to try: the edges around the 16- and
// 32-byte blocks, 5000, and random lengths in 0..5000.
func sizes(r *rand.Rand, random int) []int {
	out := []int{0, 1, 11, 12, 13, 15, 16, 17, 31, 32, 33, 5000}
	for range random {
		out = append(out, r.IntN(5001))
	}
	return out
}

// userDataJSON returns a watermarked JSON document carrying n random bytes.
func userDataJSON(tb testing.TB, r *rand.Rand, n int) []byte {
	tb.Helper()
	doc := map[string]any{
		"data":      randBytes(r, n), // base64 in JSON
		"watermark": map[string]any{"timestamp": 1477314187, "appid": udAppID},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestPropertyUserDataRoundTrip(t *testing.T) {
	r := newRand()
	for _, n := range sizes(r, 200) {
		key, iv := randBytes(r, 16), randBytes(r, 16)
		plain := userDataJSON(t, r, n)
		enc, err := EncryptUserData(key, iv, plain)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecryptUserData(b64(key), enc, b64(iv), udAppID)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("n=%d: round trip = %v", n, err)
		}
	}
}

func TestPropertyMsgCryptRoundTrip(t *testing.T) {
	r := newRand()
	for _, n := range sizes(r, 200) {
		key := b64(randBytes(r, 32))[:43]
		m, err := NewMsgCrypt("tok", key, "wx"+b64(randBytes(r, 12)))
		if err != nil {
			t.Fatal(err)
		}
		msg := randBytes(r, n)
		enc, err := m.EncryptWithRandom(randBytes(r, 16), msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Decrypt(enc)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("n=%d: round trip = %v", n, err)
		}
	}
}

// flipByte returns a copy of b with b[i] XORed with a non-zero mask.
func flipByte(r *rand.Rand, b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= byte(1 + r.IntN(255))
	return c
}

// flipChar returns a copy of s with s[i] replaced by another character of
// the standard base64 alphabet or '='.
func flipChar(r *rand.Rand, s string, i int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
	for {
		c := alphabet[r.IntN(len(alphabet))]
		if c != s[i] {
			return s[:i] + string(c) + s[i+1:]
		}
	}
}

// positions returns the indexes of a length-n input to tamper with: all of
// the first 32 and last 64, and 150 random ones in between, which keeps the
// test fast under -race on 5000-byte inputs without losing the edges.
func positions(r *rand.Rand, n int) []int {
	if n <= 246 {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	for i := range 32 {
		out = append(out, i, n-64+i, n-32+i)
	}
	for range 150 {
		out = append(out, 32+r.IntN(n-96))
	}
	return out
}

// TestPropertyUserDataTamper flips single bytes of the ciphertext and single
// base64 characters. CBC only guarantees detection when the change reaches
// the last two blocks (padding, JSON tail and watermark appid live there);
// earlier changes garble plaintext the watermark check cannot see, so for
// those the property is only: no panic, and never the original plaintext.
func TestPropertyUserDataTamper(t *testing.T) {
	r := newRand()
	for _, n := range sizes(r, 8) {
		key, iv := randBytes(r, 16), randBytes(r, 16)
		plain := userDataJSON(t, r, n)
		enc, err := EncryptUserData(key, iv, plain)
		if err != nil {
			t.Fatal(err)
		}
		ct := mustB64(t, enc)
		tail := len(ct) - 32
		for _, i := range positions(r, len(ct)) {
			got, err := DecryptUserData(b64(key), b64(flipByte(r, ct, i)), b64(iv), udAppID)
			if i >= tail && err == nil {
				t.Fatalf("n=%d: flip of byte %d/%d accepted", n, i, len(ct))
			}
			if err == nil && bytes.Equal(got, plain) {
				t.Fatalf("n=%d: flip of byte %d returned the original", n, i)
			}
		}
		for _, i := range positions(r, len(enc)) {
			got, err := DecryptUserData(b64(key), flipChar(r, enc, i), b64(iv), udAppID)
			if i*6/8 >= tail && err == nil {
				t.Fatalf("n=%d: flip of char %d accepted", n, i)
			}
			if err == nil && bytes.Equal(got, plain) {
				t.Fatalf("n=%d: flip of char %d returned the original", n, i)
			}
		}
	}
}

// TestPropertyMsgCryptTamper: in WXBizMsgCrypt the body is authenticated by
// msg_signature, not by the cipher, so every single-byte or single-character
// change must fail VerifyAndDecrypt with ErrSignature, and a bare Decrypt of
// the tampered text must not panic nor return the original message.
func TestPropertyMsgCryptTamper(t *testing.T) {
	r := newRand()
	m := newTestMsgCrypt(t)
	const ts, nonce = "1714112445", "415670741"
	for _, n := range sizes(r, 8) {
		msg := randBytes(r, n)
		rep, err := m.EncryptReplyWithRandom(randBytes(r, 16), msg, ts, nonce)
		if err != nil {
			t.Fatal(err)
		}
		ct := mustB64(t, rep.Encrypt)
		check := func(what string, i int, enc string) {
			if m.VerifyMsgSignature(ts, nonce, enc, rep.MsgSignature) {
				t.Fatalf("n=%d: %s %d keeps msg_signature valid", n, what, i)
			}
			if _, err := m.VerifyAndDecrypt(ts, nonce, enc, rep.MsgSignature); !errors.Is(err, ErrSignature) {
				t.Fatalf("n=%d: %s %d: VerifyAndDecrypt err = %v", n, what, i, err)
			}
			if got, err := m.Decrypt(enc); err == nil && bytes.Equal(got, msg) {
				t.Fatalf("n=%d: %s %d: Decrypt returned the original", n, what, i)
			}
		}
		for _, i := range positions(r, len(ct)) {
			check("byte", i, b64(flipByte(r, ct, i)))
		}
		for _, i := range positions(r, len(rep.Encrypt)) {
			check("char", i, flipChar(r, rep.Encrypt, i))
		}
	}
}
