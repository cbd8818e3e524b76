package miniback

import (
	"context"
	"time"
)

// Stats are the counts of one app that the admin overview shows.
type Stats struct {
	Users    int64            `json:"users"`    // every user of the app
	Logins   int64            `json:"logins"`   // sessions created since the given time
	Pushes   int64            `json:"pushes"`   // pushes received since the given time
	Outbound map[string]int64 `json:"outbound"` // every outbound message, by status (each status present)
}

// StatsStore counts what the stores hold. Implementations are safe for
// concurrent use.
type StatsStore interface {
	// Stats returns the counts of appid, with logins and pushes counted from
	// since on. An app with nothing stored has zero counts, not an error.
	Stats(ctx context.Context, appid string, since time.Time) (*Stats, error)
}
