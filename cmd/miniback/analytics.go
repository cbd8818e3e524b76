package main

import (
	"time"

	"github.com/miniback/miniback/internal/analytics"
	"github.com/miniback/miniback/internal/api"
	"github.com/miniback/miniback/wechat"
)

// newAnalytics builds the analytics flow from the configuration, or
// returns nil when the database engine has no analytics storage.
func (m *Main) newAnalytics(clients map[string]*wechat.Client) *analytics.Service {
	if m.DB.Events == nil || m.DB.Datacube == nil {
		m.Logger.Warn("analytics is off: this database engine does not store events yet")
		return nil
	}
	cfg := m.Config.Analytics
	hour, minute, on := cfg.DatacubeTime()
	c := analytics.Config{
		Anonymous:        cfg.Anonymous,
		MaxPerUserPerDay: cfg.MaxEventsPerUserPerDay,
		Loc:              cfg.Location(),
		DatacubeAt:       time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute,
		DatacubeOff:      !on,
		RetainEvents:     m.Config.Retention.Events,
		Logger:           m.Logger.With("component", "analytics"),
	}
	if m.tuneAnalytics != nil {
		m.tuneAnalytics(&c)
	}
	cubes := make(map[string]analytics.Datacuber, len(clients))
	for id, cl := range clients {
		cubes[id] = cl
	}
	return analytics.New(c, m.DB.Events, m.DB.Datacube, m.State, m.Queue, cubes)
}

// analyticsAPI is m.Analytics for the API: a nil interface when off.
func (m *Main) analyticsAPI() api.Analytics {
	if m.Analytics == nil {
		return nil
	}
	return m.Analytics
}
