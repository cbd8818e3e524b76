package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// old returns the instant d after a clock reading far before at's, used by
// the tests of queries that are not scoped by appid, so that rows of other
// tests on a shared database never match them.
func old(d time.Duration) time.Time {
	return time.Date(2001, 2, 3, 4, 5, 6, 789_000_000, time.UTC).Add(d)
}

// newInbox returns a received push of appid with the given dedup key.
func newInbox(appid, key string, received time.Time) *miniback.InboxMessage {
	return &miniback.InboxMessage{
		AppID: appid, DedupKey: key, MsgType: "event", Event: "subscribe_msg_popup_event",
		FromUser: "o-" + key, CreateTime: 1_700_000_000,
		Message:    json.RawMessage(`{"ToUserName":"gh_1", "MsgType" :"event","List":[{"k":"微信🙂"}]}`),
		Status:     miniback.InboxReceived,
		ReceivedAt: received,
	}
}

// inboxString renders every field of m, times as unix milliseconds, so that
// two messages compare equal exactly when the store round-tripped them.
func inboxString(m *miniback.InboxMessage) string {
	return fmt.Sprintf("%d|%s|%s|%s|%s|%s|%d|%s|%s|%s|%d|%d", m.ID, m.AppID, m.DedupKey,
		m.MsgType, m.Event, m.FromUser, m.CreateTime, m.Message, m.Status, m.Error,
		m.ReceivedAt.UnixMilli(), millisOrZero(m.HandledAt))
}

// millisOrZero returns t in unix milliseconds, or 0 for the zero time.
func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// mustAddInbox stores m, which must be new.
func mustAddInbox(t *testing.T, is miniback.InboxStore, m *miniback.InboxMessage) *miniback.InboxMessage {
	t.Helper()
	created, err := is.AddInbox(context.Background(), m)
	if err != nil {
		t.Fatalf("AddInbox: %v", err)
	}
	if !created || m.ID <= 0 {
		t.Fatalf("AddInbox: created = %v, id = %d for a new key", created, m.ID)
	}
	return m
}

// testAddInbox checks storing, deduplication by (appid, dedup key) and the
// byte-exact round trip of the JSON message.
func testAddInbox(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	tests := []struct {
		name        string
		firstApp    string // suffix of the first add's appid; the second uses ""
		wantCreated bool
	}{
		{"same key same app", "", false},
		{"same key other app", "x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := open(t).Inbox
			appid := appID(t)
			first := mustAddInbox(t, is, newInbox(appid+tt.firstApp, "k1", at(0)))
			got, err := is.InboxMessage(ctx, appid+tt.firstApp, first.ID)
			if err != nil {
				t.Fatalf("InboxMessage: %v", err)
			}
			if inboxString(got) != inboxString(first) {
				t.Errorf("stored %s, want %s", inboxString(got), inboxString(first))
			}
			second := newInbox(appid, "k1", at(time.Hour))
			second.Message = json.RawMessage(`{"other":true}`)
			created, err := is.AddInbox(ctx, second)
			if err != nil {
				t.Fatalf("second AddInbox: %v", err)
			}
			if created != tt.wantCreated {
				t.Fatalf("second AddInbox: created = %v, want %v", created, tt.wantCreated)
			}
			if !created && inboxString(second) != inboxString(first) {
				t.Errorf("duplicate loaded %s, want %s", inboxString(second), inboxString(first))
			}
			if created && second.ID == first.ID {
				t.Errorf("new message got the id %d of another app's message", second.ID)
			}
		})
	}
}

// testAddInboxConcurrent checks that 20 concurrent adds of one key store one
// row, report created once and all see its id.
func testAddInboxConcurrent(t *testing.T, open OpenFunc) {
	const n = 20
	ctx := context.Background()
	is := open(t).Inbox
	appid := appID(t)
	ids := make([]int64, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			m := newInbox(appid, "same-key", at(time.Duration(i)*time.Second))
			created[i], errs[i] = is.AddInbox(ctx, m)
			ids[i] = m.ID
		})
	}
	close(start)
	wg.Wait()
	nCreated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("AddInbox %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] || ids[i] <= 0 {
			t.Errorf("AddInbox %d: id %d, want %d", i, ids[i], ids[0])
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Errorf("created = true %d times, want 1", nCreated)
	}
	msgs, err := is.Inbox(ctx, appid, miniback.InboxQuery{Limit: 100})
	if err != nil {
		t.Fatalf("Inbox: %v", err)
	}
	if len(msgs) != 1 {
		t.Errorf("Inbox: %d rows, want 1", len(msgs))
	}
}

// testInboxMessage checks lookup by id and its not_found contract.
func testInboxMessage(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	is := open(t).Inbox
	appid := appID(t)
	m := mustAddInbox(t, is, newInbox(appid, "k1", at(0)))
	tests := []struct {
		name, appid string
		id          int64
		wantCode    string
	}{
		{"found", appid, m.ID, ""},
		{"other app", appid + "x", m.ID, miniback.ECodeNotFound},
		{"missing id", appid, m.ID + 1_000_000, miniback.ECodeNotFound},
		{"zero id", appid, 0, miniback.ECodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := is.InboxMessage(ctx, tt.appid, tt.id)
			wantCode(t, err, tt.wantCode)
			if tt.wantCode == "" && inboxString(got) != inboxString(m) {
				t.Errorf("got %s, want %s", inboxString(got), inboxString(m))
			}
			if tt.wantCode != "" && got != nil {
				t.Errorf("message = %+v with an error, want nil", got)
			}
		})
	}
}

// testInbox checks paging: newest first, the beforeID cursor, limits and
// the app boundary.
func testInbox(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	is := open(t).Inbox
	appid := appID(t)
	var ids []int64 // newest first
	for i := range 5 {
		key := fmt.Sprintf("k%d", i)
		m := mustAddInbox(t, is, newInbox(appid, key, at(time.Duration(i)*time.Minute)))
		ids = append([]int64{m.ID}, ids...)
		mustAddInbox(t, is, newInbox(appid+"x", key, at(0))) // interleaved other app
	}
	tests := []struct {
		name     string
		appid    string
		beforeID int64
		limit    int
		want     []int64
	}{
		{"first page", appid, 0, 2, ids[:2]},
		{"second page", appid, ids[1], 2, ids[2:4]},
		{"last page is short", appid, ids[3], 2, ids[4:]},
		{"before the oldest", appid, ids[4], 2, nil},
		{"all", appid, 0, 100, ids},
		{"cursor between ids", appid, ids[0] - 1, 100, ids[1:]},
		{"zero limit", appid, 0, 0, nil},
		{"negative limit", appid, 0, -1, nil},
		{"unknown app", appid + "y", 0, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := is.Inbox(ctx, tt.appid, miniback.InboxQuery{BeforeID: tt.beforeID, Limit: tt.limit})
			if err != nil {
				t.Fatalf("Inbox: %v", err)
			}
			var got []int64
			for _, m := range msgs {
				if m.AppID != tt.appid {
					t.Errorf("message %d has appid %q, want %q", m.ID, m.AppID, tt.appid)
				}
				got = append(got, m.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}
}

// testInboxFilter checks the msg_type and status filters, alone, together
// and with the cursor.
func testInboxFilter(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	is := open(t).Inbox
	appid := appID(t)
	add := func(key, msgType, status string) int64 {
		m := newInbox(appid, key, at(0))
		m.MsgType, m.Status = msgType, status
		return mustAddInbox(t, is, m).ID
	}
	text1 := add("t1", "text", miniback.InboxHandled)
	event1 := add("e1", "event", miniback.InboxFailed)
	text2 := add("t2", "text", miniback.InboxFailed)
	event2 := add("e2", "event", miniback.InboxHandled)
	other := newInbox(appid+"x", "t3", at(0))
	other.MsgType, other.Status = "text", miniback.InboxFailed
	mustAddInbox(t, is, other)
	tests := []struct {
		name string
		q    miniback.InboxQuery
		want []int64
	}{
		{"type", miniback.InboxQuery{MsgType: "text", Limit: 10}, []int64{text2, text1}},
		{"status", miniback.InboxQuery{Status: miniback.InboxFailed, Limit: 10}, []int64{text2, event1}},
		{"both", miniback.InboxQuery{MsgType: "event", Status: miniback.InboxHandled, Limit: 10}, []int64{event2}},
		{"type after cursor", miniback.InboxQuery{MsgType: "text", BeforeID: text2, Limit: 10}, []int64{text1}},
		{"type with limit", miniback.InboxQuery{MsgType: "event", Limit: 1}, []int64{event2}},
		{"no match", miniback.InboxQuery{MsgType: "image", Limit: 10}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := is.Inbox(ctx, appid, tt.q)
			if err != nil {
				t.Fatalf("Inbox: %v", err)
			}
			var got []int64
			for _, m := range msgs {
				got = append(got, m.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}
}

// testFinishInbox checks that the verdict is stored and the not_found
// contract.
func testFinishInbox(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	tests := []struct {
		name, status, errText string
	}{
		{"handled", miniback.InboxHandled, ""},
		{"failed", miniback.InboxFailed, "handler: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := open(t).Inbox
			appid := appID(t)
			m := mustAddInbox(t, is, newInbox(appid, "k1", at(0)))
			if err := is.FinishInbox(ctx, m.ID, tt.status, tt.errText, at(time.Minute)); err != nil {
				t.Fatalf("FinishInbox: %v", err)
			}
			got, err := is.InboxMessage(ctx, appid, m.ID)
			if err != nil {
				t.Fatalf("InboxMessage: %v", err)
			}
			want := *m
			want.Status, want.Error, want.HandledAt = tt.status, tt.errText, ms(at(time.Minute))
			if inboxString(got) != inboxString(&want) {
				t.Errorf("got %s, want %s", inboxString(got), inboxString(&want))
			}
		})
	}
	t.Run("not found", func(t *testing.T) {
		is := open(t).Inbox
		err := is.FinishInbox(ctx, 1<<62, miniback.InboxHandled, "", at(0))
		wantCode(t, err, miniback.ECodeNotFound)
	})
}

// testStaleInbox checks that only received messages older than the bound
// come back, oldest first, up to the limit.
func testStaleInbox(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	is := open(t).Inbox
	appid := appID(t)
	add := func(key string, received time.Time) int64 {
		return mustAddInbox(t, is, newInbox(appid, key, received)).ID
	}
	oldest := add("oldest", old(0))
	older := add("older", old(time.Minute))
	add("at bound", old(10*time.Minute))
	add("fresh", old(20*time.Minute))
	handled := add("handled", old(0))
	failed := add("failed", old(0))
	if err := is.FinishInbox(ctx, handled, miniback.InboxHandled, "", old(time.Second)); err != nil {
		t.Fatalf("FinishInbox: %v", err)
	}
	if err := is.FinishInbox(ctx, failed, miniback.InboxFailed, "x", old(time.Second)); err != nil {
		t.Fatalf("FinishInbox: %v", err)
	}
	tests := []struct {
		name  string
		limit int
		want  []int64
	}{
		{"all", 100, []int64{oldest, older}},
		{"limit", 1, []int64{oldest}},
		{"zero limit", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := is.StaleInbox(ctx, old(10*time.Minute), tt.limit)
			if err != nil {
				t.Fatalf("StaleInbox: %v", err)
			}
			if len(msgs) > max(tt.limit, 0) {
				t.Errorf("StaleInbox: %d messages, limit %d", len(msgs), tt.limit)
			}
			var got []int64
			for _, m := range msgs {
				if m.AppID == appid {
					got = append(got, m.ID)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}
}

// testInboxMessages checks that the messages of the app among the ids come
// back in id order, every field round-tripped, and that ids of other apps
// and ids with no message are left out.
func testInboxMessages(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	is := open(t).Inbox
	appid := appID(t)
	a := mustAddInbox(t, is, newInbox(appid, "a", at(0)))
	b := mustAddInbox(t, is, newInbox(appid, "b", at(time.Second)))
	c := mustAddInbox(t, is, newInbox(appid, "c", at(2*time.Second)))
	other := mustAddInbox(t, is, newInbox(appid+"x", "a", at(0)))
	tests := []struct {
		name string
		ids  []int64
		want []*miniback.InboxMessage
	}{
		{"in id order", []int64{c.ID, a.ID}, []*miniback.InboxMessage{a, c}},
		{"missing and other app left out", []int64{b.ID, 1 << 62, other.ID}, []*miniback.InboxMessage{b}},
		{"repeated id once", []int64{b.ID, b.ID}, []*miniback.InboxMessage{b}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := is.InboxMessages(ctx, appid, tt.ids)
			if err != nil {
				t.Fatalf("InboxMessages: %v", err)
			}
			if got == nil {
				t.Error("InboxMessages returned nil, want an empty slice")
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d messages, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if inboxString(got[i]) != inboxString(tt.want[i]) {
					t.Errorf("[%d] = %s, want %s", i, inboxString(got[i]), inboxString(tt.want[i]))
				}
			}
		})
	}
}

// testFinishInboxes checks that every listed message gets the verdict, the
// others keep theirs, and missing ids are skipped.
func testFinishInboxes(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	is := open(t).Inbox
	appid := appID(t)
	a := mustAddInbox(t, is, newInbox(appid, "a", at(0)))
	b := mustAddInbox(t, is, newInbox(appid, "b", at(0)))
	c := mustAddInbox(t, is, newInbox(appid, "c", at(0)))
	if err := is.FinishInboxes(ctx, []int64{a.ID, 1 << 62, c.ID}, miniback.InboxFailed, "boom", at(time.Minute)); err != nil {
		t.Fatalf("FinishInboxes: %v", err)
	}
	if err := is.FinishInboxes(ctx, nil, miniback.InboxHandled, "", at(time.Minute)); err != nil {
		t.Fatalf("FinishInboxes without ids: %v", err)
	}
	got, err := is.InboxMessages(ctx, appid, []int64{a.ID, b.ID, c.ID})
	if err != nil || len(got) != 3 {
		t.Fatalf("InboxMessages: %d, %v", len(got), err)
	}
	for i, m := range []*miniback.InboxMessage{a, b, c} {
		want := *m
		if m != b {
			want.Status, want.Error, want.HandledAt = miniback.InboxFailed, "boom", ms(at(time.Minute))
		}
		if inboxString(got[i]) != inboxString(&want) {
			t.Errorf("got %s, want %s", inboxString(got[i]), inboxString(&want))
		}
	}
}
