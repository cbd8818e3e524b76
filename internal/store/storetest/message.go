package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// newMessage returns a queued customer message of appid with a unique id,
// due at next.
func newMessage(t *testing.T, appid string, next time.Time) *miniback.Message {
	return &miniback.Message{
		ID: "msg-" + randomHex(t, 12), AppID: appid, Kind: miniback.KindCustomer, OpenID: "o1",
		Payload:   json.RawMessage(`{"touser":"o1", "msgtype":"text","text":{"content":"你好 🙂"}}`),
		CreatedAt: at(0), NextAttemptAt: next,
	}
}

// messageString renders every field of m, times as unix milliseconds.
func messageString(m *miniback.Message) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%d|%d|%s|%s|%d|%d|%d|%d", m.ID, m.AppID, m.Kind,
		m.OpenID, m.Payload, m.Status, m.Attempts, m.WeChatErrCode, m.Error, m.WeChatMsgID,
		millisOrZero(m.CreatedAt), millisOrZero(m.SentAt), millisOrZero(m.NextAttemptAt),
		millisOrZero(m.ClaimedAt))
}

// mustCreateMessage stores m.
func mustCreateMessage(t *testing.T, st miniback.MessageStore, m *miniback.Message) *miniback.Message {
	t.Helper()
	if err := st.CreateMessage(context.Background(), m); err != nil {
		t.Fatalf("CreateMessage: %v", err)
	}
	return m
}

// mustClaim claims the message id, which must be queued.
func mustClaim(t *testing.T, st miniback.MessageStore, id string, now time.Time) *miniback.Message {
	t.Helper()
	m, ok, err := st.ClaimMessage(context.Background(), id, now)
	if err != nil || !ok {
		t.Fatalf("ClaimMessage: ok = %v, err = %v", ok, err)
	}
	return m
}

// mustMessage reads the message id of appid.
func mustMessage(t *testing.T, st miniback.MessageStore, appid, id string) *miniback.Message {
	t.Helper()
	m, err := st.Message(context.Background(), appid, id)
	if err != nil {
		t.Fatalf("Message: %v", err)
	}
	return m
}

// testCreateMessage checks the stored fields and the conflict contract.
func testCreateMessage(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t).Messages
	appid := appID(t)
	m := mustCreateMessage(t, st, newMessage(t, appid, at(time.Minute)))
	want := *m
	want.Status, want.CreatedAt, want.NextAttemptAt = miniback.MessageQueued, ms(at(0)), ms(at(time.Minute))
	if got := mustMessage(t, st, appid, m.ID); messageString(got) != messageString(&want) {
		t.Errorf("stored %s, want %s", messageString(got), messageString(&want))
	}
	tests := []struct {
		name  string
		appid string
	}{
		{"same app", appid},
		{"other app", appid + "x"},
	}
	for _, tt := range tests {
		t.Run("duplicate id in "+tt.name, func(t *testing.T) {
			dup := newMessage(t, tt.appid, at(0))
			dup.ID = m.ID
			wantCode(t, st.CreateMessage(ctx, dup), miniback.ECodeConflict)
		})
	}
}

// testMessage checks lookup and its not_found contract.
func testMessage(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t).Messages
	appid := appID(t)
	m := mustCreateMessage(t, st, newMessage(t, appid, at(0)))
	tests := []struct {
		name, appid, id, wantCode string
	}{
		{"found", appid, m.ID, ""},
		{"other app", appid + "x", m.ID, miniback.ECodeNotFound},
		{"missing id", appid, m.ID + "x", miniback.ECodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.Message(ctx, tt.appid, tt.id)
			wantCode(t, err, tt.wantCode)
			if tt.wantCode == "" && got.ID != m.ID {
				t.Errorf("id = %q, want %q", got.ID, m.ID)
			}
		})
	}
}

// testClaimMessage checks that only a queued message is claimed, and what a
// refused claim returns.
func testClaimMessage(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	tests := []struct {
		name       string
		prepare    func(t *testing.T, st miniback.MessageStore, id string)
		wantOK     bool
		wantStatus string
		wantTries  int
	}{
		{"queued", func(*testing.T, miniback.MessageStore, string) {}, true, miniback.MessageSending, 1},
		{"sending", func(t *testing.T, st miniback.MessageStore, id string) {
			mustClaim(t, st, id, at(0))
		}, false, miniback.MessageSending, 1},
		{"sent", func(t *testing.T, st miniback.MessageStore, id string) {
			mustClaim(t, st, id, at(0))
			mustFinish(t, st, id, miniback.MessageOutcome{Status: miniback.MessageSent, Now: at(time.Second)})
		}, false, miniback.MessageSent, 1},
		{"requeued", func(t *testing.T, st miniback.MessageStore, id string) {
			mustClaim(t, st, id, at(0))
			mustFinish(t, st, id, miniback.MessageOutcome{Status: miniback.MessageQueued,
				NextAttemptAt: at(time.Minute), Now: at(time.Second)})
		}, true, miniback.MessageSending, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := open(t).Messages
			appid := appID(t)
			m := mustCreateMessage(t, st, newMessage(t, appid, at(0)))
			tt.prepare(t, st, m.ID)
			got, ok, err := st.ClaimMessage(ctx, m.ID, at(time.Hour))
			if err != nil {
				t.Fatalf("ClaimMessage: %v", err)
			}
			if ok != tt.wantOK || got == nil || got.Status != tt.wantStatus || got.Attempts != tt.wantTries {
				t.Fatalf("ClaimMessage = %+v, %v; want status %s, attempts %d, ok %v",
					got, ok, tt.wantStatus, tt.wantTries, tt.wantOK)
			}
			if ok && !got.ClaimedAt.Equal(ms(at(time.Hour))) {
				t.Errorf("claimed_at = %v, want %v", got.ClaimedAt, ms(at(time.Hour)))
			}
			if reread := mustMessage(t, st, appid, m.ID); messageString(reread) != messageString(got) {
				t.Errorf("stored %s, returned %s", messageString(reread), messageString(got))
			}
		})
	}
	t.Run("not found", func(t *testing.T) {
		st := open(t).Messages
		got, ok, err := st.ClaimMessage(ctx, "msg-"+randomHex(t, 12), at(0))
		wantCode(t, err, miniback.ECodeNotFound)
		if ok || got != nil {
			t.Errorf("ClaimMessage of a missing id = %+v, %v", got, ok)
		}
	})
}

// testClaimMessageConcurrent checks that of 10 concurrent claims exactly one
// wins.
func testClaimMessageConcurrent(t *testing.T, open OpenFunc) {
	const n = 10
	ctx := context.Background()
	st := open(t).Messages
	appid := appID(t)
	m := mustCreateMessage(t, st, newMessage(t, appid, at(0)))
	oks := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, oks[i], errs[i] = st.ClaimMessage(ctx, m.ID, at(time.Duration(i)*time.Second))
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("ClaimMessage %d: %v", i, errs[i])
		}
		if oks[i] {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d claims won, want 1", won)
	}
	if got := mustMessage(t, st, appid, m.ID); got.Attempts != 1 || got.Status != miniback.MessageSending {
		t.Errorf("after the race: status %s, attempts %d; want sending, 1", got.Status, got.Attempts)
	}
}

// mustFinish records out for the sending message id.
func mustFinish(t *testing.T, st miniback.MessageStore, id string, out miniback.MessageOutcome) {
	t.Helper()
	if err := st.FinishMessage(context.Background(), id, out); err != nil {
		t.Fatalf("FinishMessage: %v", err)
	}
}

// testFinishMessage checks the stored outcome of each status and the
// conflict and not_found contracts.
func testFinishMessage(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	now := at(time.Minute)
	tests := []struct {
		name   string
		out    miniback.MessageOutcome
		update func(m *miniback.Message) // from the claimed message to the expected one
	}{
		{"sent", miniback.MessageOutcome{Status: miniback.MessageSent, WeChatMsgID: "1234567890", Now: now},
			func(m *miniback.Message) {
				m.Status, m.WeChatMsgID, m.SentAt = miniback.MessageSent, "1234567890", ms(now)
			}},
		{"retry", miniback.MessageOutcome{Status: miniback.MessageQueued, WeChatErrCode: -1,
			Error: "system busy", NextAttemptAt: at(time.Hour), Now: now},
			func(m *miniback.Message) {
				m.Status, m.WeChatErrCode, m.Error = miniback.MessageQueued, -1, "system busy"
				m.NextAttemptAt = ms(at(time.Hour))
			}},
		{"failed", miniback.MessageOutcome{Status: miniback.MessageFailed, WeChatErrCode: 43101,
			Error: "user refuse to accept the msg", Now: now},
			func(m *miniback.Message) {
				m.Status, m.WeChatErrCode, m.Error = miniback.MessageFailed, 43101, "user refuse to accept the msg"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := open(t).Messages
			appid := appID(t)
			m := mustCreateMessage(t, st, newMessage(t, appid, at(0)))
			want := mustClaim(t, st, m.ID, at(time.Second))
			mustFinish(t, st, m.ID, tt.out)
			tt.update(want)
			if got := mustMessage(t, st, appid, m.ID); messageString(got) != messageString(want) {
				t.Errorf("stored %s, want %s", messageString(got), messageString(want))
			}
			// The attempt is over: a second outcome for it is refused.
			wantCode(t, st.FinishMessage(ctx, m.ID, tt.out), miniback.ECodeConflict)
		})
	}
	t.Run("queued is not sending", func(t *testing.T) {
		st := open(t).Messages
		appid := appID(t)
		m := mustCreateMessage(t, st, newMessage(t, appid, at(0)))
		out := miniback.MessageOutcome{Status: miniback.MessageSent, Now: now}
		wantCode(t, st.FinishMessage(ctx, m.ID, out), miniback.ECodeConflict)
		if got := mustMessage(t, st, appid, m.ID); got.Status != miniback.MessageQueued {
			t.Errorf("status = %s after a refused finish, want queued", got.Status)
		}
	})
	t.Run("not found", func(t *testing.T) {
		st := open(t).Messages
		out := miniback.MessageOutcome{Status: miniback.MessageSent, Now: now}
		wantCode(t, st.FinishMessage(ctx, "msg-"+randomHex(t, 12), out), miniback.ECodeNotFound)
	})
}

// testPendingMessages checks that due queued and stale sending messages come
// back, and nothing else.
func testPendingMessages(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t).Messages
	appid := appID(t)
	now, staleBefore := old(time.Hour), old(30*time.Minute)
	create := func(next time.Time) string {
		return mustCreateMessage(t, st, newMessage(t, appid, next)).ID
	}
	claimed := func(at time.Time) string {
		id := create(old(0))
		mustClaim(t, st, id, at)
		return id
	}
	due := create(old(time.Minute))
	dueNow := create(now)
	create(now.Add(time.Millisecond)) // not yet due
	stale := claimed(old(10 * time.Minute))
	claimed(staleBefore)           // claimed at the bound: not stale
	claimed(old(50 * time.Minute)) // fresh claim
	sent, failed := claimed(old(0)), claimed(old(0))
	mustFinish(t, st, sent, miniback.MessageOutcome{Status: miniback.MessageSent, Now: old(time.Minute)})
	mustFinish(t, st, failed, miniback.MessageOutcome{Status: miniback.MessageFailed, Now: old(time.Minute)})
	want := []string{due, dueNow, stale}
	slices.Sort(want)
	tests := []struct {
		name    string
		limit   int
		wantLen int
	}{
		{"all", 100, len(want)},
		{"limit", 2, 2},
		{"zero limit", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := st.PendingMessages(ctx, now, staleBefore, tt.limit)
			if err != nil {
				t.Fatalf("PendingMessages: %v", err)
			}
			if len(msgs) > max(tt.limit, 0) {
				t.Errorf("%d messages, limit %d", len(msgs), tt.limit)
			}
			var got []string
			for _, m := range msgs {
				if m.AppID == appid {
					got = append(got, m.ID)
				}
			}
			if len(got) != tt.wantLen {
				t.Fatalf("ids = %v, want %d of %v", got, tt.wantLen, want)
			}
			for _, id := range got {
				if !slices.Contains(want, id) {
					t.Errorf("id %s is neither due nor stale; want among %v", id, want)
				}
			}
			slices.Sort(got)
			if tt.wantLen == len(want) && !slices.Equal(got, want) {
				t.Errorf("ids = %v, want %v", got, want)
			}
		})
	}
}
