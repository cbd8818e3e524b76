package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// appState is one app and everything the platform keeps about it. It is
// guarded by Server.mu.
type appState struct {
	App
	users         map[string]*user // by openid
	userOrder     keyQueue         // creation order, for Config.MaxUsers
	maxUsers      int
	classic       string    // the newest /cgi-bin/token token
	stable        string    // the newest stable token
	lastForce     time.Time // last force_refresh that refreshed
	forceDay      string    // Beijing date of forceCount
	forceCount    int
	subscriptions map[string]bool // openid+"\x00"+template → accepted
}

// user is a WeChat user as seen by one app.
type user struct {
	OpenID     string
	UnionID    string
	SessionKey string // "" until the first jscode2session
}

func newAppState(a App) *appState {
	if a.MsgFormat == "" {
		a.MsgFormat = "JSON"
	}
	if a.PushMode == "" {
		a.PushMode = ModePlain
		if a.AESKey != "" {
			a.PushMode = ModeSafe
		}
	}
	if len(a.Pages) == 0 {
		a.Pages = []string{DefaultPage}
	} else {
		a.Pages = slices.Clone(a.Pages)
	}
	tpl := make(map[string][]string)
	for id, kw := range a.Templates {
		tpl[id] = slices.Clone(kw)
	}
	if len(tpl) == 0 {
		tpl[DefaultTemplateID] = DefaultTemplateKeywords()
	}
	a.Templates = tpl
	return &appState{App: a, users: make(map[string]*user), subscriptions: make(map[string]bool)}
}

// writeJSON writes v without HTML escaping, as WeChat does.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeOK writes {"errcode":0,"errmsg":"ok"} merged with extra fields.
func writeOK(w http.ResponseWriter, extra map[string]any) {
	m := map[string]any{"errcode": 0, "errmsg": "ok"}
	for k, v := range extra {
		m[k] = v
	}
	writeJSON(w, http.StatusOK, m)
}

// maxBody bounds every JSON body; WeChat's own limits are far below it.
const maxBody = 4 << 20

// decodeWX reads a WeChat API JSON body into v. The Content-Type header is
// ignored, as WeChat ignores it: an empty body is 44002 "empty post data",
// and anything that is not a JSON object of the right shape is 47001 "data
// format error".
func decodeWX(r *http.Request, v any) error {
	body, err := readWXBody(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return wxErr(47001, "data format error")
	}
	return nil
}

// readWXBody reads a WeChat API JSON body: 44002 when empty, 47001 when it
// is not a JSON object.
func readWXBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, wxErr(47001, "data format error")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, wxErr(44002, "empty post data")
	}
	if body[0] != '{' || !json.Valid(body) {
		return nil, wxErr(47001, "data format error")
	}
	return body, nil
}

// hasPage reports whether page is one of the app's published pages.
func (a *appState) hasPage(page string) bool { return slices.Contains(a.Pages, page) }

// pathOnly strips a query string from a page path.
func pathOnly(page string) string {
	p, _, _ := strings.Cut(page, "?")
	return p
}

// decodeControl reads a control-route JSON body into v (400 on failure).
func decodeControl(r *http.Request, v any) error {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(v); err != nil {
		return ctlErr(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	return nil
}

// requireMethod answers 43001 "require GET method" or 43002 "require POST
// method" when r does not use method.
func requireMethod(r *http.Request, method string) error {
	if r.Method == method {
		return nil
	}
	if method == http.MethodGet {
		return wxErr(43001, "require GET method")
	}
	return wxErr(43002, "require POST method")
}

// controlMethod answers 405 when a control route gets the wrong method.
func controlMethod(r *http.Request, methods ...string) error {
	if slices.Contains(methods, r.Method) {
		return nil
	}
	return ctlErr(http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
}

// appForControl returns the app for a control request (404 if unknown).
// The caller holds s.mu.
func (s *Server) appForControl(appid string) (*appState, error) {
	a, ok := s.apps[appid]
	if !ok {
		return nil, ctlErr(http.StatusNotFound, "unknown appid %q", appid)
	}
	return a, nil
}
