package wxcrypto_test

import (
	"fmt"

	"github.com/miniback/miniback/wxcrypto"
)

// Verifying and decrypting an encrypted push, then encrypting the reply.
// The values are the official example of the message-push documentation.
func ExampleMsgCrypt() {
	mc, err := wxcrypto.NewMsgCrypt("AAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "wxba5fad812f8e6fb9")
	if err != nil {
		fmt.Println(err)
		return
	}
	const encrypt = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="
	msg, err := mc.VerifyAndDecrypt("1714112445", "415670741", encrypt, "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(msg))

	reply, err := mc.EncryptReply([]byte(`{"demo_resp":"good luck"}`), "1713424427", "415670741")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(mc.VerifyMsgSignature(reply.TimeStamp, reply.Nonce, reply.Encrypt, reply.MsgSignature))
	// Output:
	// {"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}
	// true
}

// Opening wx.getUserInfo's encryptedData with the official sample.
func ExampleDecryptUserData() {
	plain, err := wxcrypto.DecryptUserData(
		"tiihtNczf5v6AKRyjwEUhQ==",
		"CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==",
		"r7BXXKkLb8qrSNn05n0qiA==",
		"wx4f4bc4dec97d474b",
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	wm, err := wxcrypto.ParseWatermark(plain)
	fmt.Println(len(plain), wm.AppID, wm.Timestamp, err)
	// Output:
	// 393 wx4f4bc4dec97d474b 1477314187 <nil>
}

// The signature of URL verification and of plaintext pushes.
func ExampleVerifySignature() {
	fmt.Println(wxcrypto.VerifySignature("AAAAA", "1714036504", "1514711492", "f464b24fc39322e44b38aa78f5edd27bd1441696"))
	fmt.Println(wxcrypto.CheckSessionSignature("o0q0otL8aEzpcZL/FT9WsQ=="))
	// Output:
	// true
	// 46e043c5525c2d817c44be603d30837a808a1d930d038f6fdc3e62a201fed128
}
