package sandbox

import "net/http"

// routes registers every path the sandbox serves: WeChat's API paths (and
// WeChat Pay's, payRoutes), then the control routes under /sandbox/. Methods
// are checked by the handlers, so a wrong method gets WeChat's 43001/43002
// rather than a bare 405.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(path string, h handlerFunc) { mux.Handle(path, s.adapt(h)) }

	handle("/cgi-bin/token", s.handleToken)
	handle("/cgi-bin/stable_token", s.handleStableToken)
	handle("/sns/jscode2session", s.handleJSCode2Session)
	handle("/wxa/checksession", s.authed(http.MethodGet, s.handleCheckSession))
	handle("/wxa/business/getuserphonenumber", s.authed(http.MethodPost, s.handleGetPhoneNumber))
	handle("/cgi-bin/message/custom/send", s.authed(http.MethodPost, s.handleCustomSend))
	handle("/cgi-bin/message/subscribe/send", s.authed(http.MethodPost, s.handleSubscribeSend))
	handle("/cgi-bin/media/upload", s.authed(http.MethodPost, s.handleMediaUpload))
	handle("/cgi-bin/media/get", s.authed(http.MethodGet, s.handleMediaGet))
	handle("/wxa/getwxacodeunlimit", s.authed(http.MethodPost, s.handleWxaCodeUnlimit))
	handle("/wxa/generate_urllink", s.authed(http.MethodPost, s.handleURLLink))
	handle("/wxa/generatescheme", s.authed(http.MethodPost, s.handleGenerateScheme))
	handle("/wxa/genwxashortlink", s.authed(http.MethodPost, s.handleShortLink))
	handle("/wxa/msg_sec_check", s.authed(http.MethodPost, s.handleMsgSecCheck))
	handle("/wxa/media_check_async", s.authed(http.MethodPost, s.handleMediaCheckAsync))
	s.payRoutes(handle)
	s.datacubeRoutes(handle)

	handle("/sandbox/login", s.handleControlLogin)
	handle("/sandbox/phone-code", s.handleControlPhoneCode)
	handle("/sandbox/userinfo", s.handleControlUserInfo)
	handle("/sandbox/phone-encrypted", s.handleControlPhoneEncrypted)
	handle("/sandbox/faults", s.handleControlFaults)
	handle("/sandbox/calls", s.handleControlCalls)
	handle("/sandbox/subscriptions", s.handleControlSubscriptions)
	handle("/sandbox/sent", s.handleControlSent)
	handle("/sandbox/push", s.handleControlPush)
	mux.Handle("/", s.adapt(func(http.ResponseWriter, *http.Request) error {
		// The real platform answers unknown API paths this way.
		return wxErr(-1, "system error (sandbox: no such API)")
	}))
	return mux
}
