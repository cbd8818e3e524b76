package main

import (
	"time"

	"github.com/miniback/miniback/internal/analytics"
	"github.com/miniback/miniback/wechat"
)

// newAnalytics builds the analytics flow from the configuration.
func (m *Main) newAnalytics(clients map[string]*wechat.Client) *analytics.Service {
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
