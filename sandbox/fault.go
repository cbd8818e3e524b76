package sandbox

import (
	"net/http"
	"time"
)

// Fault makes the next Count calls to Path fail: with WeChat error ErrCode
// (HTTP 200, {"errcode","errmsg"}), or with HTTP status HTTPStatus and a
// short text body, or, with DelayMS, by waiting that long (or until the
// request is cancelled) and then answering normally. Exactly one of
// ErrCode, HTTPStatus and DelayMS should be set; Count ≤ 0 means 1.
type Fault struct {
	Path       string `json:"path"`
	ErrCode    int    `json:"errcode,omitempty"`
	ErrMsg     string `json:"errmsg,omitempty"`
	HTTPStatus int    `json:"http_status,omitempty"`
	DelayMS    int    `json:"delay_ms,omitempty"`
	Count      int    `json:"count"`
}

type faultState struct {
	Fault
	left int
}

// InjectFault queues f. Faults for the same path apply in the order they
// were injected. It is safe for concurrent use.
func (s *Server) InjectFault(f Fault) error {
	if f.Path == "" {
		return ctlErr(http.StatusBadRequest, "path is required")
	}
	if f.ErrCode == 0 && f.HTTPStatus == 0 && f.DelayMS <= 0 {
		return ctlErr(http.StatusBadRequest, "one of errcode, http_status, delay_ms is required")
	}
	if f.HTTPStatus != 0 && (f.HTTPStatus < 100 || f.HTTPStatus > 599) {
		return ctlErr(http.StatusBadRequest, "http_status %d out of range", f.HTTPStatus)
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, left: f.Count})
	return nil
}

// ClearFaults removes every queued fault. It is safe for concurrent use.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// recordCall counts a call to path and takes one use of the first fault
// queued for it, if any.
func (s *Server) recordCall(path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[path]++
	for i, f := range s.faults {
		if f.Path != path {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		out := f.Fault
		return &out
	}
	return nil
}

// applyFault acts out f and reports whether the request should still be
// served normally (after a delay).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	switch {
	case f.ErrCode != 0:
		msg := f.ErrMsg
		if msg == "" {
			msg = errmsgFor(f.ErrCode)
		}
		writeWXError(w, f.ErrCode, msg)
		return false
	case f.HTTPStatus != 0:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.HTTPStatus)
		_, _ = w.Write([]byte(http.StatusText(f.HTTPStatus) + " (sandbox injected fault)\n"))
		return false
	}
	t := time.NewTimer(time.Duration(f.DelayMS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// errmsgFor is the usual errmsg of the codes tests inject most.
func errmsgFor(code int) string {
	switch code {
	case -1:
		return "system error"
	case 40001:
		return errInvalidCredential.(*wxError).Msg
	case 40014:
		return "invalid access_token"
	case 40164:
		return "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist"
	case 42001:
		return "access_token expired"
	case 45009:
		return "reach max api daily quota limit"
	case 45011:
		return "api minute-quota reach limit mustslower retry next minute"
	case 45015:
		return "response out of time limit or subscription is canceled"
	case 45047:
		return "out of response count limit"
	}
	return "sandbox injected fault"
}
