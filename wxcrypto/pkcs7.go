package wxcrypto

import "crypto/subtle"

// pkcs7Pad appends n = k - len(b)%k bytes of value n (n in 1..k) to a copy
// of b with spare capacity for nothing else.
func pkcs7Pad(b []byte, k int) []byte {
	n := k - len(b)%k
	out := make([]byte, len(b)+n)
	copy(out, b)
	for i := len(b); i < len(out); i++ {
		out[i] = byte(n)
	}
	return out
}

// pkcs7Unpad strips a strict PKCS#7 padding for block size k (k <= 255):
// the pad byte n must be in 1..min(k, len(b)) and the last n bytes must all
// equal n. The check examines the same k bytes whatever the padding is, so
// its running time does not reveal where a bad pad byte sits. The caller
// guarantees len(b) >= k.
func pkcs7Unpad(b []byte, k int) ([]byte, bool) {
	n := len(b)
	if n < k {
		return nil, false
	}
	pad := int(b[n-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, k)
	for i := 0; i < k; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i+1, pad)
		same := subtle.ConstantTimeByteEq(b[n-1-i], byte(pad))
		good &= same | (inPad ^ 1)
	}
	if good != 1 {
		return nil, false
	}
	return b[:n-pad], true
}
