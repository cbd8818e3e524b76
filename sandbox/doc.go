// Package sandbox is an emulator of the parts of api.weixin.qq.com that
// miniback uses (SPEC §6), for tests and local development. It never
// imports the wechat client: its wire structs are written from the
// protocol documentation, so a mistake in the client cannot be mirrored
// here and hidden by the tests. A *Server is an http.Handler; run it in
// httptest and point the client's base URL at it. All state is in memory.
//
// # WeChat API
//
// Same paths, parameters, JSON shapes, error codes and limits as the real
// platform. Errors are HTTP 200 {"errcode","errmsg"} and, like the real
// ones, errmsg ends in ", rid: …": never compare errmsg for equality.
//
//	GET  /cgi-bin/token                    40002 grant_type, 40013 appid, 40125 secret; every call
//	                                       issues a new token, the previous one lives 5 more minutes
//	POST /cgi-bin/stable_token             normal and force_refresh modes (20/day → 45009, ≥30 s apart)
//	GET  /sns/jscode2session               40029 unknown/expired/other app's code, 40163 used, 41008 empty;
//	                                       success has no errcode; each login rotates session_key
//	GET  /wxa/checksession                 87009 invalid signature, 87008 sig_method, 40003 openid
//	POST /wxa/business/getuserphonenumber  40029 for a bad, used, expired or other openid's code
//	POST /cgi-bin/message/custom/send      text, image, link, miniprogrampage
//	POST /cgi-bin/message/subscribe/send   40037, 47003 per keyword rule, 43101 refused, msgid > 2^53
//	POST /cgi-bin/media/upload, GET /cgi-bin/media/get   images ≤ 2 MB, kept 3 days
//	POST /wxa/getwxacodeunlimit            a PNG QR code of WxaCodeContent (Content-Type image/jpeg)
//	POST /wxa/generate_urllink, /wxa/generatescheme, /wxa/genwxashortlink
//	POST /wxa/msg_sec_check, /wxa/media_check_async (v2; the result is pushed as wxa_media_check)
//
// Choices where the platform is not documented precisely:
//   - Access tokens: missing → 41001; unknown, or replaced and past its
//     handover → 40001; past expires_in → 42001. The token alone decides
//     the app, so another app's token acts on that app, where this app's
//     codes, users and media do not exist (40029, 40003, 40007).
//   - A wrong method is 43001 "require GET method" / 43002 "require POST
//     method"; it is checked before the token.
//   - POST bodies: Content-Type is ignored (as WeChat ignores it); the body
//     must be a JSON object: empty → 44002, anything else → 47001. Only
//     /cgi-bin/stable_token answers a non-JSON body (a form post) with 41002
//     "appid missing", as reported for the real one.
//   - Forced stable-token refreshes are counted per Beijing calendar day; a
//     forced call within 30 s of the last refreshing one returns the current
//     token and does not count.
//   - checksession accepts either hex case.
//   - subscribe/send: data must hold exactly the template's keywords; page is
//     checked against App.Pages (41030) only for miniprogram_state formal;
//     a bad miniprogram_state or lang is 47003.
//   - Links: expiry beyond 30 days, or under a minute, is 85401; a page the
//     app does not have 40165; a bad query 40212.
//   - msg_sec_check: version ≠ 2 → 47001, scene ∉ 1–4 → 40129, content over
//     2500 characters → 45002. media_check_async: bad media_url or
//     media_type → 47001.
//   - The customer-service window (45015) and count (45047) are not
//     modelled: inject them with a fault.
//   - Unknown API paths answer errcode -1.
//
// # Apps
//
// Config.Apps lists the apps. An app without Pages has [DefaultPage]; one
// without Templates has DefaultTemplateID with DefaultTemplateKeywords
// (thing1, number2, date3, phrase4). MsgFormat defaults to JSON; PushMode
// to safe when the app has an AESKey, else plain.
//
// # Control routes
//
// Routes under /sandbox/ stand in for the phone and the platform. They take
// and answer JSON; failures are {"error":"…"} with 400, 404, 405 or 502.
// Each has a Go method so Go tests need not go through HTTP.
//
//	POST /sandbox/login            {"appid","openid"?,"unionid"?,"user"?} → {"code","openid"}      Server.Login, LoginAs
//	    what wx.login gives. openid names the user; else "user" derives a
//	    stable openid per (appid, user) and a stable unionid per user; else a
//	    new user is made. Codes live Config.CodeTTL, once. ("openid" in the
//	    answer is an extension.)
//	POST /sandbox/phone-code       {"appid","openid","phone_number"} → {"code"}                   Server.PhoneCode
//	    what the getPhoneNumber button gives. phone_number is "13800138000",
//	    "+8613800138000" or "+CC-NUMBER"; the country code defaults to 86.
//	POST /sandbox/push             {"appid","message":{…},"mode"?,"timestamp"?,"nonce"?} → {"status","body"}   Server.Push, BuildPush
//	    signs (and encrypts) message as WeChat does, in the app's MsgFormat,
//	    POSTs it to the app's PushURL and answers the backend's status and body.
//	GET  /sandbox/sent?appid=&openid=   → {"messages":[{"kind","openid","body","msgid","sent_at"}]}   Server.Sent
//	    the customer-service ("customer") and subscribe messages sent.
//	POST /sandbox/faults           {"path","errcode"|"http_status"|"delay_ms","errmsg"?,"count"} → {}   Server.InjectFault
//	DELETE /sandbox/faults         → {}                                                           Server.ClearFaults
//	    the next count calls to path fail with that errcode (HTTP 200), or
//	    that HTTP status, or are delayed (honouring cancellation) and then
//	    served normally.
//
// Extensions (not in SPEC §6 yet):
//
//	GET  /sandbox/calls?path=      → {"count"}: requests received for path, faulted ones included   Server.Calls
//	POST /sandbox/userinfo         {"appid","openid","nickname"?,"avatar_url"?} → {"raw_data","signature","encrypted_data","iv"}   Server.UserInfo
//	    what wx.getUserInfo gives: signature = sha1(raw_data + session_key);
//	    encrypted_data is AES-128-CBC under the user's current session_key
//	    of {openId, nickName, …, unionId?, watermark{timestamp, appid}}.
//	    404 if the user never exchanged a login code.
//	POST /sandbox/phone-encrypted  {"appid","openid","phone_number"} → {"encrypted_data","iv"}   Server.PhoneEncrypted
//	    the legacy getPhoneNumber button: {phoneNumber, purePhoneNumber,
//	    countryCode (a string, "86"), watermark}. 404 if never logged in.
//	POST /sandbox/subscriptions    {"appid","openid","template_id","status":"accept"|"reject"} → {}   Server.SetSubscription
//	    subscribe/send to a user who rejected the template answers 43101;
//	    every user accepts every template by default.
//
// WeChat Pay (API v3), for apps with App.Pay, on the same server:
//
//	POST /v3/pay/transactions/jsapi, GET /v3/pay/transactions/out-trade-no/{no}?mchid=,
//	GET /v3/pay/transactions/id/{id}?mchid=, POST /v3/pay/transactions/out-trade-no/{no}/close,
//	POST /v3/refund/domestic/refunds, GET /v3/refund/domestic/refunds/{no}, GET /v3/certificates
//	    check Accept and User-Agent, the WECHATPAY2-SHA256-RSA2048 merchant
//	    signature over the raw body (the key of PayApp.MerchantKey, or a
//	    generated one: Server.MerchantKey), the 5-minute timestamp rule and
//	    the fields; answer WeChat Pay's shapes and codes (OUT_TRADE_NO_USED,
//	    ORDERPAID, ORDER_CLOSED, APPID_MCHID_NOT_MATCH, SIGN_ERROR, …), every
//	    answer signed by the platform key: under its public key id when the
//	    request's Wechatpay-Serial names it, else under the certificate
//	    serial. The same key is served as a certificate by /v3/certificates
//	    (encrypted with the APIv3 key) and as a public key (Server.PayPublicKey).
//	    An identical prepay returns the same prepay_id (a new one after 2 h).
//	    Refunds stay PROCESSING until settled; their sum may not pass the total.
//	POST /sandbox/pay/confirm      {"appid","out_trade_no","result":"SUCCESS"|"CLOSED"}   Server.ConfirmPayment
//	    SUCCESS pays and notifies notify_url (TRANSACTION.SUCCESS, encrypted,
//	    signed by the public key, or the certificate with PayApp.NotifyWith
//	    "certificate"), redelivered on WeChat Pay's schedule (15 s, 15 s,
//	    30 s, 3 m, …, times Config.PayTimeScale) until answered 2xx. CLOSED
//	    closes the order without a notification, as an order that timed out.
//	POST /sandbox/pay/refund-result {"appid","out_refund_no","status":"SUCCESS"|"CLOSED"|"ABNORMAL"}   Server.SettleRefund
//	POST /sandbox/pay/faults       {"path","code"|"http_status"|"delay_ms","count"} | {"drop_notify":N} |
//	                               {"probe":true} | {"notify_fault":"amount|signature|stale|serial|probe"}   Server.InjectPayFault
//	DELETE /sandbox/pay/faults     clears them.
//	GET  /sandbox/pay/notifications?out_trade_no=|out_refund_no=  → {"deliveries":[…]}   Server.Deliveries
//	    (Server.TradeState and Server.RefundStatus show, to tests, what WeChat
//	    Pay did behind an answer the backend never received.)
//	POST /sandbox/pay/webhook      a backend's business event (pay.webhook_url), answered 204
//	GET  /sandbox/pay/webhook?out_trade_no=  → {"deliveries":[{"delivery","event","appid",
//	    "out_trade_no","out_refund_no","signature_valid","at"}]}   Server.Webhooks
//	    (X-Miniback-Signature checked with PayApp.WebhookSecret; the last 1000 kept).
//
// Server.SessionKey exists for tests only: it reveals a user's current
// session_key, which the real platform gives to the backend alone.
//
// # Memory
//
// Everything lives in memory and is bounded (Config.MaxCodes, MaxUsers,
// MaxMediaBytes, MaxSent): expired codes and media are dropped, and beyond
// a bound the oldest entries go first. A forgotten code answers 40029, as
// an expired one does; a forgotten user is made anew on its next login.
package sandbox
