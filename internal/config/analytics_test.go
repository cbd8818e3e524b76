package config

import (
	"errors"
	"testing"
	"time"
)

func TestAnalyticsConfig(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Analytics
	if a.MaxEventsPerUserPerDay != 10000 || a.Timezone != "Asia/Shanghai" || a.DatacubeAt != "06:00" || cfg.Retention.Events != 90*24*time.Hour {
		t.Fatalf("defaults = %+v, retention %v", a, cfg.Retention)
	}
	if h, m, on := a.DatacubeTime(); h != 6 || m != 0 || !on || a.Location().String() != "Asia/Shanghai" {
		t.Fatalf("datacube time %d:%d %v, location %v", h, m, on, a.Location())
	}
	cfg, err = Load("", []string{"MINIBACK_ANALYTICS_MAX_EVENTS_PER_USER_PER_DAY=25", "MINIBACK_ANALYTICS_ANONYMOUS=true",
		"MINIBACK_ANALYTICS_DATACUBE_AT=off", "MINIBACK_RETENTION_EVENTS=720h"})
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Analytics; a.MaxEventsPerUserPerDay != 25 || !a.Anonymous || cfg.Retention.Events != 720*time.Hour {
		t.Fatalf("from the environment = %+v", a)
	}
	if _, _, on := cfg.Analytics.DatacubeTime(); on {
		t.Fatal("datacube_at off is on")
	}
	for env, key := range map[string]string{
		"MINIBACK_ANALYTICS_TIMEZONE=Mars/Olympus":            "analytics.timezone",
		"MINIBACK_ANALYTICS_DATACUBE_AT=6am":                  "analytics.datacube_at",
		"MINIBACK_ANALYTICS_MAX_EVENTS_PER_USER_PER_DAY=0":    "analytics.max_events_per_user_per_day",
		"MINIBACK_ANALYTICS_MAX_EVENTS_PER_USER_PER_DAY=lots": "analytics.max_events_per_user_per_day",
		"MINIBACK_RETENTION_EVENTS=1h":                        "retention.events",
	} {
		_, err := Load("", []string{env})
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != key {
			t.Errorf("%s: error %v, want one naming %s", env, err, key)
		}
	}
}
