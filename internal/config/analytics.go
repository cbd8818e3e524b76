package config

import (
	"time"
	// The binary must know analytics.timezone (default Asia/Shanghai) on
	// hosts without a zoneinfo database, such as scratch containers.
	_ "time/tzdata"
)

// Analytics configures the event ingest, its queries and the daily
// datacube pull (SPEC §12).
type Analytics struct {
	// Anonymous accepts events without an access token, keyed by the
	// client's device_id.
	Anonymous bool `yaml:"anonymous"`
	// MaxEventsPerUserPerDay caps the events one user (or device) may send
	// in a day of Timezone; beyond it the ingest answers 429.
	MaxEventsPerUserPerDay int `yaml:"max_events_per_user_per_day"`
	// Timezone is where days begin for rollups and queries (IANA name).
	Timezone string `yaml:"timezone"`
	// DatacubeAt is the time of day (HH:MM in Timezone) of the daily pull
	// of WeChat's datacube figures; "off" disables it.
	DatacubeAt string `yaml:"datacube_at"`
}

// Retention configures how long raw data is kept.
type Retention struct {
	// Events is how long raw events are kept; rollups are kept forever.
	Events time.Duration `yaml:"events"`
	// Inbox is how long handled and failed pushes are kept.
	Inbox time.Duration `yaml:"inbox"`
	// Messages is how long sent and failed outbound messages are kept.
	Messages time.Duration `yaml:"messages"`
	// Interval is how often housekeeping runs, once per deployment.
	Interval time.Duration `yaml:"interval"`
}

// Location returns the loaded Timezone; Validate has checked it loads.
func (a Analytics) Location() *time.Location {
	loc, err := time.LoadLocation(a.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// DatacubeTime returns the hour and minute of DatacubeAt, and false when
// the daily pull is off.
func (a Analytics) DatacubeTime() (hour, minute int, on bool) {
	if a.DatacubeAt == "off" {
		return 0, 0, false
	}
	t, err := time.Parse("15:04", a.DatacubeAt)
	if err != nil {
		return 0, 0, false
	}
	return t.Hour(), t.Minute(), true
}

func (c *Config) validateAnalytics() error {
	a := c.Analytics
	if a.MaxEventsPerUserPerDay < 1 {
		return &Error{Key: "analytics.max_events_per_user_per_day", Msg: "must be at least 1"}
	}
	if _, err := time.LoadLocation(a.Timezone); err != nil || a.Timezone == "" {
		return &Error{Key: "analytics.timezone", Msg: "must be an IANA time zone such as Asia/Shanghai"}
	}
	if _, err := time.Parse("15:04", a.DatacubeAt); err != nil && a.DatacubeAt != "off" {
		return &Error{Key: "analytics.datacube_at", Msg: "must be HH:MM or off"}
	}
	if c.Retention.Events < 24*time.Hour {
		return &Error{Key: "retention.events", Msg: "must be at least 24h"}
	}
	return nil
}
