package miniback

import (
	"context"
	"strconv"
	"time"
)

// PurgeStore deletes what the retention settings let go, in small batches
// so that no call holds locks for long. Each method deletes at most limit
// rows and returns how many it deleted; callers repeat while it returns
// limit. Implementations are safe for concurrent use.
type PurgeStore interface {
	// PurgeSessions deletes sessions, with their refresh tokens, that
	// expired before expiredBefore or were revoked before revokedBefore.
	PurgeSessions(ctx context.Context, expiredBefore, revokedBefore time.Time, limit int) (int, error)
	// PurgeInbox deletes handled and failed pushes received before before;
	// pushes still received (not yet handled) are kept.
	PurgeInbox(ctx context.Context, before time.Time, limit int) (int, error)
	// PurgeMessages deletes sent and failed outbound messages created
	// before before; queued and sending ones are kept.
	PurgeMessages(ctx context.Context, before time.Time, limit int) (int, error)
	// TrimCodes deletes the least recently used cached codes beyond the
	// keep most recently used (MediaStore.Code marks a code used).
	TrimCodes(ctx context.Context, keep, limit int) (int, error)
}

// TakeTurn reports whether the caller is the one instance of the
// deployment that runs job in the current window of length every (windows
// are counted from the Unix epoch): the first caller of each window wins,
// through SetNX in the state store that every instance shares. Periodic
// work calls it before each run, so it runs once per deployment, not once
// per instance. With an in-process store the one instance always wins. An
// error of the store is returned with false: the run is skipped. An every
// of zero or less has no windows: every caller runs.
func TakeTurn(ctx context.Context, s StateStore, job string, every time.Duration, now time.Time) (bool, error) {
	if every <= 0 {
		return true, nil
	}
	window := now.UnixNano() / int64(every)
	return s.SetNX(ctx, "jobs:"+job+":"+strconv.FormatInt(window, 10), "1", 2*every)
}
