package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miniback/miniback/internal/config"
)

// mintCodes gets n sandbox wx.login codes (new users) before a benchmark's
// clock starts, so that minting is not counted.
func mintCodes(b *testing.B, m *Main, n int) []string {
	b.Helper()
	codes := make([]string, n)
	for i := range codes {
		code, err := m.Sandbox.Login(config.DemoAppID, "")
		if err != nil {
			b.Fatal(err)
		}
		codes[i] = code
	}
	return codes
}

// BenchmarkLoginServerCPU is BenchmarkLoginInProcess with the codes minted
// first: its cpu-ns/op is the process's CPU per login, the sandbox's side
// of code2session included (sandbox mode), without the minting.
func BenchmarkLoginServerCPU(b *testing.B) {
	m := hotMain(b)
	codes := mintCodes(b, m, b.N)
	h := m.server.Handler
	url := "http://" + m.Addr() + "/api/v1/" + config.DemoAppID + "/login"
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	defer cpuPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(`{"code":"`+codes[next.Add(1)-1]+`"}`))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("login: %d %s", w.Code, w.Body)
				return
			}
		}
	})
}

// BenchmarkCode2Session is the code2session call alone, as a login makes
// it: the WeChat client over loopback HTTP to the embedded sandbox, both
// sides counted in cpu-ns/op.
func BenchmarkCode2Session(b *testing.B) {
	m := hotMain(b)
	codes := mintCodes(b, m, b.N)
	c := m.API.WeChat[config.DemoAppID]
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	defer cpuPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Code2Session(b.Context(), codes[next.Add(1)-1]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSandboxMintOverHTTP is one POST /sandbox/login over loopback
// HTTP, as ../shared/bench's tools mint their codes before a login run: the
// side-by-side run counts this CPU of miniback's process as login CPU.
func BenchmarkSandboxMintOverHTTP(b *testing.B) {
	m := hotMain(b)
	url := "http://" + m.Addr() + "/sandbox/login"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	defer cpuPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Sprintf(`{"appid":%q,"user":"mint%d"}`, config.DemoAppID, next.Add(1))
			resp, err := hc.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("mint: %d", resp.StatusCode)
				return
			}
		}
	})
}
