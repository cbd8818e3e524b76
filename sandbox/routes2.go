package sandbox

import "net/http"

// routesPart2 registers the message, media, code, link and security APIs
// and their control routes.
func (s *Server) routesPart2(handle func(string, handlerFunc)) {
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

	handle("/sandbox/subscriptions", s.handleControlSubscriptions)
	handle("/sandbox/sent", s.handleControlSent)
	handle("/sandbox/push", s.handleControlPush)
	s.payRoutes(handle)
}
