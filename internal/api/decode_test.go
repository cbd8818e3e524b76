package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/miniback/miniback"
)

func decodeAll(body, ctype string) []error {
	targets := []any{&codeRequest{}, &refreshRequest{}, &patchMeRequest{}, &phoneRequest{}, &userInfoRequest{}}
	errs := make([]error, len(targets))
	for i, v := range targets {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		errs[i] = decodeJSON(httptest.NewRecorder(), r, v)
	}
	return errs
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name, body, ctype, code string
	}{
		{"ok", `{"code":"abc"}`, "application/json", ""},
		{"ok with charset", `{"code":"abc"}`, "application/json; charset=utf-8", ""},
		{"wrong type", `{"code":"abc"}`, "text/plain", miniback.ECodeUnsupportedMedia},
		{"bad ctype", `{"code":"abc"}`, ";;;", miniback.ECodeUnsupportedMedia},
		{"empty", ``, "application/json", miniback.ECodeInvalidRequest},
		{"truncated", `{"code":"a`, "application/json", miniback.ECodeInvalidRequest},
		{"array", `["code"]`, "application/json", miniback.ECodeInvalidRequest},
		{"null", `null`, "application/json", ""},
		{"number for string", `{"code":1}`, "application/json", miniback.ECodeInvalidRequest},
		{"unknown field", `{"kode":"x"}`, "application/json", miniback.ECodeInvalidRequest},
		{"trailing garbage", `{"code":"x"} x`, "application/json", miniback.ECodeInvalidRequest},
		{"second object", `{"code":"x"}{}`, "application/json", miniback.ECodeInvalidRequest},
		{"too large", `{"code":"` + strings.Repeat("x", maxJSONBody) + `"}`, "application/json", miniback.ECodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.ctype)
			err := decodeJSON(httptest.NewRecorder(), r, &codeRequest{})
			if got := miniback.ErrorCode(err); got != tt.code {
				t.Fatalf("code = %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

// FuzzDecodeJSON: whatever the body, every request decoder returns nil or
// an *miniback.Error whose status is a 4xx, and never panics.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"code":"x"}`, `{"nickname":null,"avatar_url":"https://a"}`, `{"encrypted_data":"a","iv":"b"}`,
		`{"raw_data":"{\"a\":1}","signature":"x","encrypted_data":"y","iv":"z"}`, `{`, `[]`, "\x00", `{"code":"\ud800"}`} {
		f.Add(s, "application/json")
	}
	f.Add(`{}`, "text/xml")
	f.Fuzz(func(t *testing.T, body, ctype string) {
		for _, err := range decodeAll(body, ctype) {
			if err == nil {
				continue
			}
			var e *miniback.Error
			if !errors.As(err, &e) {
				t.Fatalf("not a miniback.Error: %v", err)
			}
			if st := StatusOf(e.Code); st < 400 || st > 499 {
				t.Fatalf("status %d for %v", st, err)
			}
		}
	})
}

func TestStatusTableCoversEveryCode(t *testing.T) {
	for code, status := range statusOf {
		if status < 400 || status > 599 || http.StatusText(status) == "" {
			t.Errorf("%s → %d", code, status)
		}
	}
	if StatusOf("no_such_code") != 500 {
		t.Fatal("unknown codes must be 500")
	}
}
