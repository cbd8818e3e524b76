package miniback

import (
	"context"
	"time"
)

// Media is a temporary media file uploaded to WeChat (three days).
type Media struct {
	MediaID     string    `json:"media_id"`
	AppID       string    `json:"-"`
	UserID      int64     `json:"-"`
	Type        string    `json:"type"`
	ContentType string    `json:"-"`
	Size        int64     `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"-"`
}

// MediaCheck is an asynchronous content check of a media URL; the
// wxa_media_check push fills in its verdict by TraceID.
type MediaCheck struct {
	TraceID   string    `json:"trace_id"`
	AppID     string    `json:"-"`
	MediaURL  string    `json:"media_url"`
	MediaType int       `json:"media_type"`
	OpenID    string    `json:"openid,omitempty"`
	Status    string    `json:"status"` // pending, then the verdict: pass, review or risky
	Label     int       `json:"label,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// Code is a cached mini-program code image, keyed by its parameters.
type Code struct {
	AppID       string
	Key         string // hash of the normalised parameters
	ContentType string
	Image       []byte
	CreatedAt   time.Time
}

// MediaStore keeps media records, media checks and cached codes.
// Implementations are safe for concurrent use.
type MediaStore interface {
	// AddMedia stores m; an existing (appid, media_id) is replaced.
	AddMedia(ctx context.Context, m *Media) error
	// Media returns the record, or an Error with code not_found.
	Media(ctx context.Context, appid, mediaID string) (*Media, error)
	// AddMediaCheck stores c (status pending).
	AddMediaCheck(ctx context.Context, c *MediaCheck) error
	// MediaCheck returns the check, or an Error with code not_found.
	MediaCheck(ctx context.Context, appid, traceID string) (*MediaCheck, error)
	// FinishMediaCheck records the verdict of a check; not_found when the
	// trace id is unknown for appid.
	FinishMediaCheck(ctx context.Context, appid, traceID, status string, label int, now time.Time) error
	// Code returns the cached code, or an Error with code not_found. It
	// marks the code used (at most once an hour; a failure to mark it is
	// ignored), for the least-recently-used order of PurgeStore.TrimCodes.
	Code(ctx context.Context, appid, key string) (*Code, error)
	// PutCode caches c; a second put of the same key keeps the first image.
	PutCode(ctx context.Context, c *Code) error
}
