package sandbox

import (
	"net/http"
)

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
