package sandbox

import "testing"

// The official vectors of /work/shared/wechat/vectors.json, copied here.

func TestEncryptMsgVectors(t *testing.T) {
	cases := []struct {
		name, random, key, appid, msg, want string
	}{
		{"official JSON reply", "707722b803182950", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "wxba5fad812f8e6fb9",
			`{"demo_resp":"good luck"}`, "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="},
		{"WxJava", "aaaabbbbccccdddd", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxb11529c136998cb6",
			"我是中文abcd123", "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := encryptMsgWith([]byte(c.random), c.key, c.appid, []byte(c.msg))
			if err != nil || got != c.want {
				t.Fatalf("encrypt = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	if _, err := encryptMsg("short", "wx", nil); err == nil {
		t.Fatal("a bad EncodingAESKey must fail")
	}
}

func TestSignatureVectors(t *testing.T) {
	cases := []struct{ name, got, want string }{
		{"url verification", sha1Sorted("AAAAA", "1714036504", "1514711492"), "f464b24fc39322e44b38aa78f5edd27bd1441696"},
		{"plaintext push", sha1Sorted("AAAAA", "1714037059", "486452656"), "899cf89e464efb63f54ddac96b0a0a235f53aa78"},
		{"reply msg_signature", sha1Sorted("AAAAA", "1713424427", "415670741", "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="), "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"},
		{"rawData", rawDataSignature(`{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}`, "HyVFkGl5F5OQWJZZaNzBBg=="), "75e81ceda165f4ffa64f4068af58c64b8f54b88c"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	if !validLoginSignature("o0q0otL8aEzpcZL/FT9WsQ==", []byte(`{"foo":"bar"}`), "654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b") ||
		!validLoginSignature("o0q0otL8aEzpcZL/FT9WsQ==", nil, "46e043c5525c2d817c44be603d30837a808a1d930d038f6fdc3e62a201fed128") {
		t.Error("login-state signature vectors")
	}
}
