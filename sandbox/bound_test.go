package sandbox

import (
	"fmt"
	"testing"
	"time"
)

// TestMemoryBounded pushes more codes and users through the sandbox than
// its bounds allow: the oldest are forgotten (40029 like an expired code),
// the newest still work, and the maps stay at their bounds.
func TestMemoryBounded(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxCodes = 50; c.MaxUsers = 30 })
	var codes []string
	for i := range 200 {
		code, err := e.s.LoginAs(LoginRequest{AppID: app1, User: fmt.Sprintf("u%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code.Code)
		if _, err := e.s.PhoneCode(app1, code.OpenID, "13800000000"); err != nil {
			t.Fatal(err)
		}
	}
	e.s.mu.Lock()
	nCodes, nPhone, nUsers, queue := len(e.s.codes), len(e.s.phoneCodes), len(e.s.apps[app1].users), len(e.s.codeOrder.keys)-e.s.codeOrder.head
	e.s.mu.Unlock()
	if nCodes != 50 || nPhone != 50 || nUsers != 30 || queue != 50 {
		t.Fatalf("codes %d, phone codes %d, users %d, queue %d; want 50, 50, 30, 50", nCodes, nPhone, nUsers, queue)
	}
	wantErrcode(t, e.get("/sns/jscode2session", code2session(app1, secret1, codes[0])), 40029)
	if r := e.get("/sns/jscode2session", code2session(app1, secret1, codes[199])); r.errcode() != 0 {
		t.Fatalf("newest code: %v", r.Body)
	}
	// Expired codes go even below the bound.
	e.clk.Advance(6 * time.Minute)
	if _, err := e.s.Login(app1, ""); err != nil {
		t.Fatal(err)
	}
	e.s.mu.Lock()
	nCodes = len(e.s.codes)
	e.s.mu.Unlock()
	if nCodes != 1 {
		t.Errorf("%d codes after the others expired; want 1", nCodes)
	}
}

func TestSentBounded(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxSent = 10 })
	a := e.s.apps[app1]
	for i := range 100 {
		e.s.mu.Lock()
		e.s.record(a, "customer", "o1", []byte(fmt.Sprintf(`{"n":%d}`, i)))
		e.s.mu.Unlock()
	}
	e.s.mu.Lock()
	n := len(e.s.sent)
	last := string(e.s.sent[n-1].Body)
	e.s.mu.Unlock()
	if n > 15 || last != `{"n":99}` {
		t.Errorf("%d sent kept, newest %s", n, last)
	}
}
