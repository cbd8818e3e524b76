package sandbox

import (
	"net/http"
)

// routes registers the WeChat API paths and the control routes. Methods
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
	s.routesPart2(handle)
	s.datacubeRoutes(handle)

	handle("/sandbox/login", s.handleControlLogin)
	handle("/sandbox/phone-code", s.handleControlPhoneCode)
	handle("/sandbox/userinfo", s.handleControlUserInfo)
	handle("/sandbox/phone-encrypted", s.handleControlPhoneEncrypted)
	handle("/sandbox/faults", s.handleControlFaults)
	handle("/sandbox/calls", s.handleControlCalls)
	mux.Handle("/", s.adapt(func(http.ResponseWriter, *http.Request) error {
		// The real platform answers unknown API paths this way.
		return wxErr(-1, "system error (sandbox: no such API)")
	}))
	return mux
}

func (s *Server) handleControlLogin(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost); err != nil {
		return err
	}
	var req LoginRequest
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	resp, err := s.LoginAs(req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleControlPhoneCode(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost); err != nil {
		return err
	}
	var req PhoneCodeRequest
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	code, err := s.PhoneCode(req.AppID, req.OpenID, req.PhoneNumber)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"code": code})
	return nil
}

func (s *Server) handleControlUserInfo(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost); err != nil {
		return err
	}
	var req UserInfoRequest
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	resp, err := s.UserInfo(req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleControlPhoneEncrypted(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost); err != nil {
		return err
	}
	var req PhoneCodeRequest
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	resp, err := s.PhoneEncrypted(req.AppID, req.OpenID, req.PhoneNumber)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleControlFaults(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost, http.MethodDelete); err != nil {
		return err
	}
	if r.Method == http.MethodDelete {
		s.ClearFaults()
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	var f Fault
	if err := decodeControl(r, &f); err != nil {
		return err
	}
	if err := s.InjectFault(f); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (s *Server) handleControlCalls(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodGet); err != nil {
		return err
	}
	path := r.URL.Query().Get("path")
	if path == "" {
		return ctlErr(http.StatusBadRequest, "path is required")
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": s.Calls(path)})
	return nil
}
