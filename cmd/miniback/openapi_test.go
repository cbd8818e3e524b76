package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/miniback/miniback/internal/api"
)

// loadOpenAPI parses and validates the embedded OpenAPI document.
func loadOpenAPI(tb testing.TB) *openapi3.T {
	tb.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		tb.Fatalf("internal/api/openapi.json does not parse: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("internal/api/openapi.json is not valid OpenAPI: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		tb.Fatalf("internal/api/openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	return doc
}

// sandboxPrefixes are the embedded sandbox's routes: the WeChat emulator is
// not part of miniback's API and is described by SPEC §6, not OpenAPI.
var sandboxPrefixes = []string{"/sandbox/", "/cgi-bin/", "/sns/", "/wxa/"}

// describedRoute turns a ServeMux pattern into the OpenAPI path and method
// that must describe it: "GET /a/{id...}" → "/a/{id}", "get".
func describedRoute(pattern string) (path, method string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern
	}
	path = strings.ReplaceAll(path, "...}", "}")
	path = strings.TrimSuffix(path, "{$}")
	return path, strings.ToLower(method)
}

// TestOpenAPIDescribesEveryRoute compares /openapi.json with the routes the
// server actually registered, both ways.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	e := startMain(t, withAdmin)
	doc := loadOpenAPI(t)
	var served bytes.Buffer
	resp, err := http.Get(e.base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(&served, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(served.Bytes(), api.OpenAPI()) {
		t.Fatalf("GET /openapi.json: %d, not the embedded document", resp.StatusCode)
	}

	registered := map[string]bool{}
	for _, pattern := range e.m.API.Routes() {
		path, method := describedRoute(pattern)
		registered[method+" "+path] = true
		if doc.Paths.Find(path) == nil || doc.Paths.Find(path).GetOperation(strings.ToUpper(method)) == nil {
			t.Errorf("route %q is registered but not described: add paths[%q].%s (summary, parameters, requestBody, responses with the answer's schema) to internal/api/openapi.json", pattern, path, method)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			key := strings.ToLower(method) + " " + path
			if !registered[key] {
				t.Errorf("internal/api/openapi.json describes %s %s, which the server does not register: remove it or register the route", method, path)
			}
		}
	}
}

// validatingTransport checks every request the end-to-end tests send and
// every answer they get against the OpenAPI document: an answer must be
// described (status, content type, JSON body); a request the server
// accepted (2xx) must be valid for the document. Deliberately bad requests
// are answered 4xx and only their answers are checked. Calls to the
// embedded sandbox, and 4xx answers to paths no route matches, are not
// checked.
type validatingTransport struct {
	t      testing.TB
	router routers.Router
	next   http.RoundTripper
}

func newValidatingClient(tb testing.TB) *http.Client {
	doc := loadOpenAPI(tb)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Client{Transport: &validatingTransport{t: tb, router: router, next: http.DefaultTransport}}
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil || v.skip(req) {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err != nil {
		return resp, nil
	}
	if problem := v.check(req, reqBody, resp, respBody); problem != "" {
		v.t.Errorf("OpenAPI: %s %s → %d: %s", req.Method, req.URL.Path, resp.StatusCode, problem)
	}
	return resp, nil
}

func (v *validatingTransport) skip(req *http.Request) bool {
	return slices.ContainsFunc(sandboxPrefixes, func(p string) bool { return strings.HasPrefix(req.URL.Path, p) })
}

// check returns what is wrong, or "".
func (v *validatingTransport) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) string {
	probe := req.Clone(context.Background())
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := v.router.FindRoute(probe)
	if err != nil {
		if resp.StatusCode/100 == 4 {
			return "" // a test probing an unknown route, a wrong method or a garbled path
		}
		return "no operation describes this route: " + err.Error()
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		ExcludeRequestBody:    !isJSON(req.Header.Get("Content-Type")),
		ExcludeResponseBody:   !isJSON(resp.Header.Get("Content-Type")),
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts}
	if resp.StatusCode/100 == 2 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return "the server accepted a request the document refuses: " + err.Error()
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Options: opts, Body: io.NopCloser(bytes.NewReader(respBody))}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Sprintf("the answer does not match the document: %v (body %.200q)", err, respBody)
	}
	return ""
}

func isJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json"
}

// errorRecorder is a testing.TB that keeps the errors reported to it.
type errorRecorder struct {
	testing.TB
	errs []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestValidatorCatchesMismatches proves the validating client is not a
// no-op: answers and accepted requests that break the document are reported.
func TestValidatorCatchesMismatches(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/healthz":
			io.WriteString(w, `{"status":5}`) // status must be the string "ok"
		case "/api/v1/wxa/login":
			io.WriteString(w, `{"access_token":"a","token_type":"Bearer","expires_in":1,"refresh_token":"r"}`)
		default:
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, `{"error":{"code":"teapot","message":"x"}}`)
		}
	}))
	defer srv.Close()
	rec := &errorRecorder{TB: t}
	c := newValidatingClient(rec)
	get := func(path string) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("/healthz")
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "answer does not match") {
		t.Fatalf("wrong healthz answer: reported %q", rec.errs)
	}
	resp, err := c.Post(srv.URL+"/api/v1/wxa/login", "application/json", strings.NewReader(`{"kode":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(rec.errs) != 2 || !strings.Contains(rec.errs[1], "accepted a request the document refuses") {
		t.Fatalf("accepted bad login: reported %q", rec.errs)
	}
	get("/undescribed/route") // 418, 4xx on an unknown path: a probe, not checked
	if len(rec.errs) != 2 {
		t.Fatalf("unknown path: reported %q", rec.errs[2:])
	}
}
