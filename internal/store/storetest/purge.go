package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// ancient returns an instant d after a moment older than every other row
// of the suite, so that the purges, which are not scoped by app, touch only
// the rows of the purge tests on a shared database.
func ancient(d time.Duration) time.Time {
	return time.Date(1985, 1, 2, 3, 4, 5, 0, time.UTC).Add(d)
}

// purgeAll calls purge with a limit of one until it deletes nothing and
// returns the total, checking that no call deletes more than the limit.
func purgeAll(t *testing.T, purge func(limit int) (int, error)) int {
	t.Helper()
	total := 0
	for {
		n, err := purge(1)
		if err != nil {
			t.Fatalf("purge: %v", err)
		}
		if n > 1 {
			t.Fatalf("purge with limit 1 deleted %d rows", n)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

// testPurgeSessions checks that expired and long-revoked sessions go with
// their refresh tokens, and that the others stay.
func testPurgeSessions(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	u := mustUser(t, st.Users, appID(t), "o-purge")
	expired := newFamilyFor(t, st.Sessions, u, ancient(time.Hour), ancient(time.Hour))
	revoked := newFamilyFor(t, st.Sessions, u, at(lifetime), at(lifetime))
	if err := st.Sessions.RevokeSession(ctx, revoked.sess.ID, ancient(time.Hour)); err != nil {
		t.Fatal(err)
	}
	live := newFamilyFor(t, st.Sessions, u, ancient(3*time.Hour), ancient(3*time.Hour))
	cut := ancient(2 * time.Hour)
	n := purgeAll(t, func(limit int) (int, error) { return st.Purge.PurgeSessions(ctx, cut, cut, limit) })
	if n != 2 {
		t.Fatalf("purged %d sessions, want 2", n)
	}
	for _, f := range []family{expired, revoked} {
		_, err := st.Sessions.Session(ctx, f.sess.ID)
		wantCode(t, err, miniback.ECodeNotFound)
		_, err = st.Sessions.RotateRefreshToken(ctx, f.rt.Hash, nextToken(t, f.sess.ID), ancient(0))
		wantCode(t, err, miniback.ECodeInvalidRefresh)
	}
	if _, err := st.Sessions.Session(ctx, live.sess.ID); err != nil {
		t.Fatalf("a session expiring after the cut was purged: %v", err)
	}
}

// testPurgeInbox checks that old handled and failed pushes go and that
// newer ones and pushes never handled stay.
func testPurgeInbox(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	appid := appID(t)
	add := func(key string, received time.Time, status string) int64 {
		m := newInbox(appid, key, received)
		if _, err := st.Inbox.AddInbox(ctx, m); err != nil {
			t.Fatal(err)
		}
		if status != miniback.InboxReceived {
			if err := st.Inbox.FinishInbox(ctx, m.ID, status, "", received); err != nil {
				t.Fatal(err)
			}
		}
		return m.ID
	}
	gone := []int64{add("h", ancient(0), miniback.InboxHandled), add("f", ancient(0), miniback.InboxFailed)}
	kept := []int64{add("r", ancient(0), miniback.InboxReceived), add("new", ancient(2*time.Hour), miniback.InboxHandled)}
	n := purgeAll(t, func(limit int) (int, error) { return st.Purge.PurgeInbox(ctx, ancient(time.Hour), limit) })
	if n != 2 {
		t.Fatalf("purged %d pushes, want 2", n)
	}
	for _, id := range gone {
		_, err := st.Inbox.InboxMessage(ctx, appid, id)
		wantCode(t, err, miniback.ECodeNotFound)
	}
	for _, id := range kept {
		if _, err := st.Inbox.InboxMessage(ctx, appid, id); err != nil {
			t.Fatalf("push %d was purged: %v", id, err)
		}
	}
}

// testPurgeMessages checks that old sent and failed messages go and that
// queued ones stay.
func testPurgeMessages(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	appid := appID(t)
	add := func(status string) string {
		m := newMessage(t, appid, ancient(0))
		m.CreatedAt = ancient(0)
		if err := st.Messages.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		if status != miniback.MessageQueued {
			if _, ok, err := st.Messages.ClaimMessage(ctx, m.ID, ancient(0)); err != nil || !ok {
				t.Fatalf("claim: %v %v", ok, err)
			}
			if err := st.Messages.FinishMessage(ctx, m.ID, miniback.MessageOutcome{Status: status, Now: ancient(0)}); err != nil {
				t.Fatal(err)
			}
		}
		return m.ID
	}
	gone := []string{add(miniback.MessageSent), add(miniback.MessageFailed)}
	kept := add(miniback.MessageQueued)
	n := purgeAll(t, func(limit int) (int, error) { return st.Purge.PurgeMessages(ctx, ancient(time.Hour), limit) })
	if n != 2 {
		t.Fatalf("purged %d messages, want 2", n)
	}
	for _, id := range gone {
		_, err := st.Messages.Message(ctx, appid, id)
		wantCode(t, err, miniback.ECodeNotFound)
	}
	if _, err := st.Messages.Message(ctx, appid, kept); err != nil {
		t.Fatalf("a queued message was purged: %v", err)
	}
}

// testTrimCodes checks that the cache drops the least recently used codes
// first and that a read marks a code used.
func testTrimCodes(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	appid := appID(t)
	for i, k := range []string{"old1", "old2", "read"} {
		c := &miniback.Code{AppID: appid, Key: k, ContentType: "image/png", Image: []byte(k),
			CreatedAt: ancient(time.Duration(i) * time.Minute)}
		if err := st.Media.PutCode(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// "read" is the newest of the three; reading "old1" makes it the most
	// recently used of them.
	if _, err := st.Media.Code(ctx, appid, "old1"); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Purge.TrimCodes(ctx, 1<<30, 10); err != nil || n != 0 {
		t.Fatalf("TrimCodes under the bound = %d, %v; want 0", n, err)
	}
	// Keep none, delete two: the two least recently used of the database.
	if n, err := st.Purge.TrimCodes(ctx, 0, 2); err != nil || n != 2 {
		t.Fatalf("TrimCodes = %d, %v; want 2", n, err)
	}
	for _, k := range []string{"old2", "read"} {
		_, err := st.Media.Code(ctx, appid, k)
		wantCode(t, err, miniback.ECodeNotFound)
	}
	if _, err := st.Media.Code(ctx, appid, "old1"); err != nil {
		t.Fatalf("the code read last was trimmed: %v", err)
	}
}
