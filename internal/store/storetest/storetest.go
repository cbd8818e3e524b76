// Package storetest is the conformance suite every SQL engine of miniback
// runs: it checks each method of miniback.UserStore, SessionStore,
// InboxStore, MessageStore, MediaStore, StatsStore, EventStore and DatacubeStore, and each error contract in their
// docs, against a real database.
//
// An engine's test calls Run with a function that opens an empty, migrated
// database. The suite namespaces its rows by test (appids, session ids and
// token hashes are unique per subtest; message ids and times of the
// unscoped queries StaleInbox and PendingMessages too), so open may also
// hand out one shared database.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// Stores are the stores of one engine under test, all on one database.
type Stores struct {
	Users    miniback.UserStore
	Sessions miniback.SessionStore
	Inbox    miniback.InboxStore
	Messages miniback.MessageStore
	Media    miniback.MediaStore
	Stats    miniback.StatsStore
	Events   miniback.EventStore
	Datacube miniback.DatacubeStore
	Purge    miniback.PurgeStore
}

// OpenFunc opens the stores under test for t and arranges their cleanup.
type OpenFunc func(t *testing.T) Stores

// at returns the instant d after the suite's fixed clock reading, whose
// nanoseconds check that times round-trip at millisecond precision.
func at(d time.Duration) time.Time {
	return time.Date(2026, 11, 21, 10, 0, 0, 123_456_789, time.UTC).Add(d)
}

// ms truncates t to the precision the stores keep.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// Run runs the whole suite against the stores open returns.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open OpenFunc)
	}{
		{"UpsertLogin", testUpsertLogin},
		{"UpsertLoginConcurrent", testUpsertLoginConcurrent},
		{"User", testUser},
		{"UserByOpenID", testUserByOpenID},
		{"UpdateUser", testUpdateUser},
		{"Users", testUsers},
		{"TimesRoundTrip", testTimesRoundTrip},
		{"CreateSession", testCreateSession},
		{"Session", testSession},
		{"SessionUser", testSessionUser},
		{"RefreshTokenSession", testRefreshTokenSession},
		{"RotateRefreshToken", testRotateRefreshToken},
		{"RotateRefreshTokenChain", testRotateChain},
		{"RotateRefreshTokenConcurrent", testRotateConcurrent},
		{"RevokeSession", testRevokeSession},
		{"SetSessionKey", testSetSessionKey},
		{"Login", testLogin},
		{"LoginAtomic", testLoginAtomic},
		{"LoginConcurrent", testLoginConcurrent},
		{"UserSessions", testUserSessions},
		{"AddInbox", testAddInbox},
		{"AddInboxConcurrent", testAddInboxConcurrent},
		{"InboxMessage", testInboxMessage},
		{"Inbox", testInbox},
		{"InboxFilter", testInboxFilter},
		{"FinishInbox", testFinishInbox},
		{"InboxMessages", testInboxMessages},
		{"FinishInboxes", testFinishInboxes},
		{"StaleInbox", testStaleInbox},
		{"CreateMessage", testCreateMessage},
		{"Message", testMessage},
		{"ClaimMessage", testClaimMessage},
		{"ClaimMessageConcurrent", testClaimMessageConcurrent},
		{"FinishMessage", testFinishMessage},
		{"PendingMessages", testPendingMessages},
		{"Messages", testMessages},
		{"Media", testMedia},
		{"MediaCheck", testMediaCheck},
		{"Code", testCode},
		{"PurgeSessions", testPurgeSessions},
		{"PurgeInbox", testPurgeInbox},
		{"PurgeMessages", testPurgeMessages},
		{"TrimCodes", testTrimCodes},
		{"Stats", testStats},
		{"EventSeries", testEventSeries},
		{"EventFunnel", testEventFunnel},
		{"EventRetention", testEventRetention},
		{"EventActive", testEventActive},
		{"EventActiveRandom", testEventActiveRandom},
		{"AddEventsOnce", testAddEventsOnce},
		{"DeleteEventsBefore", testDeleteEventsBefore},
		{"Datacube", testDatacube},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// appID returns an appid unique to the running test.
func appID(t *testing.T) string {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return "wx" + hex.EncodeToString(h.Sum(nil))
}

// randomHex returns n random bytes in hex.
func randomHex(t *testing.T, n int) string {
	return hex.EncodeToString(randomBytes(t, n))
}

// randomBytes returns n random bytes.
func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// wantCode fails t unless err carries code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := miniback.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// mustUser creates the user openid in appid.
func mustUser(t *testing.T, us miniback.UserStore, appid, openid string) *miniback.User {
	t.Helper()
	u, created, err := us.UpsertLogin(context.Background(), appid, openid, "", at(0))
	if err != nil {
		t.Fatalf("UpsertLogin: %v", err)
	}
	if !created {
		t.Fatalf("UpsertLogin(%q): created = false for a new user", openid)
	}
	return u
}

// sameUser fails t unless got and want hold the same fields.
func sameUser(t *testing.T, got, want *miniback.User) {
	t.Helper()
	if got == nil {
		t.Fatal("user is nil")
	}
	g, w := *got, *want
	if !g.CreatedAt.Equal(w.CreatedAt) || !g.LastLoginAt.Equal(w.LastLoginAt) {
		t.Fatalf("times = %v / %v, want %v / %v", g.CreatedAt, g.LastLoginAt, w.CreatedAt, w.LastLoginAt)
	}
	g.CreatedAt, g.LastLoginAt, w.CreatedAt, w.LastLoginAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if g != w {
		t.Fatalf("user = %+v, want %+v", g, w)
	}
}
