package wechat

import (
	"context"
	"encoding/json"
	"fmt"
)

// Datacube endpoints (POST /datacube/{name}): the mini program's daily
// figures. Each takes a begin and end date (yyyymmdd) under date rules of
// its own, and WeChat answers 61501 for a range it does not allow.
const (
	DatacubeDailySummary      = "getweanalysisappiddailysummarytrend"
	DatacubeDailyVisitTrend   = "getweanalysisappiddailyvisittrend"
	DatacubeWeeklyVisitTrend  = "getweanalysisappidweeklyvisittrend"
	DatacubeMonthlyVisitTrend = "getweanalysisappidmonthlyvisittrend"
	DatacubeDailyRetain       = "getweanalysisappiddailyretaininfo"
	DatacubeWeeklyRetain      = "getweanalysisappidweeklyretaininfo"
	DatacubeMonthlyRetain     = "getweanalysisappidmonthlyretaininfo"
	DatacubeVisitPage         = "getweanalysisappidvisitpage"
	DatacubeUserPortrait      = "getweanalysisappiduserportrait"
	DatacubeVisitDistribution = "getweanalysisappidvisitdistribution"
)

// Datacube errcodes: 61501 is a date range WeChat does not allow (a bug of
// the caller); 61503 is not documented and seen while a day's figures are
// not ready, so callers retry it later.
const (
	ErrDatacubeDateRange = 61501
	ErrDatacubeNotReady  = 61503
)

var datacubeNames = map[string]bool{
	DatacubeDailySummary: true, DatacubeDailyVisitTrend: true, DatacubeWeeklyVisitTrend: true,
	DatacubeMonthlyVisitTrend: true, DatacubeDailyRetain: true, DatacubeWeeklyRetain: true,
	DatacubeMonthlyRetain: true, DatacubeVisitPage: true, DatacubeUserPortrait: true,
	DatacubeVisitDistribution: true,
}

// Datacube calls the datacube endpoint name for begin..end (yyyymmdd) and
// returns the answer as received. A WeChat error is an *Error (61501 for a
// range outside the endpoint's date rule); an unknown name is an error
// before any call.
func (c *Client) Datacube(ctx context.Context, name, begin, end string) (json.RawMessage, error) {
	if !datacubeNames[name] {
		return nil, fmt.Errorf("wechat: datacube: unknown endpoint %q", name)
	}
	r, err := newJSONRequest("/datacube/"+name, map[string]string{"begin_date": begin, "end_date": end})
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	if err := c.callJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return out, nil
}
