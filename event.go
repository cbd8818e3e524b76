package miniback

import (
	"context"
	"encoding/json"
	"time"
)

// Limits of the event ingest (SPEC §12.1).
const (
	MaxEventsPerBatch = 100
	MaxEventProps     = 32
	MaxPropString     = 256
	MaxEventNameLen   = 64
	EventMaxPast      = 7 * 24 * time.Hour
	EventMaxFuture    = time.Minute
	// MaxQueryDays bounds the span of every analytics query.
	MaxQueryDays = 400
	// RetentionDays is how many days after the cohort day retention counts.
	RetentionDays = 30
)

// Event is one event of a mini program, as stored. User is the actor:
// "u:<user id>" for a signed-in user, "d:<device id>" for an anonymous
// device. Props is a flat JSON object of strings, numbers and booleans.
type Event struct {
	Name  string          `json:"name"`
	Time  time.Time       `json:"-"`
	TS    int64           `json:"ts"` // milliseconds since the epoch
	User  string          `json:"user"`
	Page  string          `json:"page,omitempty"`
	Props json.RawMessage `json:"props,omitempty"`
}

// EventBatch is the accepted part of one ingest request: its events are
// stored together, once per (AppID, ID). ID is derived from the request's
// Idempotency-Key when it has one, else random.
type EventBatch struct {
	AppID  string  `json:"appid"`
	ID     string  `json:"id"`
	Events []Event `json:"events"`
}

// Day is a calendar day in the configured time zone, counted in days since
// 1970-01-01. It is how rollups key their rows.
type Day int64

// DayOf returns the day of t in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	y, m, d := t.In(loc).Date()
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Start returns the first instant of d in loc.
func (d Day) Start(loc *time.Location) time.Time {
	u := time.Unix(int64(d)*86400, 0).UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, loc)
}

// String returns d as 2006-01-02.
func (d Day) String() string { return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly) }

// SeriesQuery asks for the count and distinct users of one event per hour
// or day over [From, To). Prop, when set, splits the series by that prop's
// values (the top 20 by count).
type SeriesQuery struct {
	AppID    string
	Name     string
	From, To time.Time
	Hourly   bool
	Prop     string
	Loc      *time.Location
}

// SeriesPoint is one bucket of a series; Value is the prop's value when the
// series is split.
type SeriesPoint struct {
	T     time.Time `json:"t"`
	Value *string   `json:"value,omitempty"`
	Count int64     `json:"count"`
	Users int64     `json:"users"`
}

// FunnelQuery asks how many users did Steps in order over [From, To), each
// step within Within of the previous one.
type FunnelQuery struct {
	AppID    string
	Steps    []string
	From, To time.Time
	Within   time.Duration
}

// FunnelStep is the users who reached one step. Conversion is relative to
// the first step (1 for the first step, 0 when nobody did it).
type FunnelStep struct {
	Name       string  `json:"name"`
	Users      int64   `json:"users"`
	Conversion float64 `json:"conversion"`
}

// RetentionQuery asks for the cohorts of users whose first Event (any event
// when "") fell on a day of [From, To], and how many of them did Event again
// on each of the following RetentionDays days.
type RetentionQuery struct {
	AppID    string
	Event    string
	From, To Day
}

// Cohort is the users first seen on one day. Retained[k] counts those who
// did the event k days later (Retained[0] = Users); days that have not come
// yet are left out.
type Cohort struct {
	Day      string  `json:"date"`
	Users    int64   `json:"users"`
	Retained []int64 `json:"retained"`
}

// ActiveQuery asks for active users on each day of [From, To].
type ActiveQuery struct {
	AppID    string
	From, To Day
	Loc      *time.Location
}

// ActiveDay is the distinct users who logged in or sent an event on the day
// (DAU), in the 7 days ending with it (WAU) and in the 30 days ending with it
// (MAU).
type ActiveDay struct {
	Day string `json:"date"`
	DAU int64  `json:"dau"`
	WAU int64  `json:"wau"`
	MAU int64  `json:"mau"`
}

// EventStore keeps events and their rollups. Implementations are safe for
// concurrent use.
type EventStore interface {
	// AddEvents stores the events of every batch not stored before, with
	// their rollups, in one transaction, keying days in loc. A batch whose
	// (AppID, ID) was already stored is skipped, so redelivered batches are
	// stored once. It returns how many batches were new.
	AddEvents(ctx context.Context, batches []EventBatch, loc *time.Location) (int, error)
	// EventNames reports which of names appid has received.
	EventNames(ctx context.Context, appid string, names []string) (map[string]bool, error)
	// Series returns the buckets of q in time order, with empty buckets.
	Series(ctx context.Context, q SeriesQuery) ([]SeriesPoint, error)
	// Funnel returns one FunnelStep per step of q.
	Funnel(ctx context.Context, q FunnelQuery) ([]FunnelStep, error)
	// Retention returns one Cohort per day of q.
	Retention(ctx context.Context, q RetentionQuery) ([]Cohort, error)
	// Active returns one ActiveDay per day of q; logins are the sessions
	// created that day.
	Active(ctx context.Context, q ActiveQuery) ([]ActiveDay, error)
	// DeleteEventsBefore removes raw events older than t (rollups stay) and
	// returns how many it removed.
	DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error)
}
