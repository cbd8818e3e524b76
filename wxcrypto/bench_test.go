package wxcrypto

import "testing"

func BenchmarkDecryptUserData(b *testing.B) {
	in := mustVector(b, "userdata_decrypt_official").Inputs
	key, data, iv := str(b, in, "sessionKey"), str(b, in, "encryptedData"), str(b, in, "iv")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecryptUserData(key, data, iv, udAppID); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPush is the official 167-byte JSON push.
func benchPush(b *testing.B) (*MsgCrypt, string) {
	v := mustVector(b, "msgcrypt_official_miniprogram_json_push")
	return newTestMsgCrypt(b), str(b, sub(b, v.Inputs, "body"), "Encrypt")
}

func BenchmarkMsgCryptDecrypt(b *testing.B) {
	m, enc := benchPush(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Decrypt(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMsgCryptEncrypt(b *testing.B) {
	m, enc := benchPush(b)
	msg, err := m.Decrypt(enc)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Encrypt(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMsgSignature(b *testing.B) {
	m, enc := benchPush(b)
	b.ReportAllocs()
	for b.Loop() {
		if !m.VerifyMsgSignature("1714112445", "415670741", enc, "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3") {
			b.Fatal("signature mismatch")
		}
	}
}
