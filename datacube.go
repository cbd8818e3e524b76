package miniback

import (
	"context"
	"encoding/json"
	"time"
)

// DatacubeRow is one answer of WeChat's datacube API as received: one row
// per (AppID, API, Begin, End). API is the endpoint name such as
// "getweanalysisappiddailyvisittrend"; Begin and End are its yyyymmdd dates.
type DatacubeRow struct {
	AppID     string          `json:"-"`
	API       string          `json:"api"`
	Begin     string          `json:"begin_date"`
	End       string          `json:"end_date"`
	Data      json.RawMessage `json:"data"`
	FetchedAt time.Time       `json:"fetched_at"`
}

// DatacubeJob is a backfill of datacube rows over a range of days.
type DatacubeJob struct {
	ID         string    `json:"id"`
	AppID      string    `json:"appid"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Status     string    `json:"status"` // running, done, failed
	Calls      int       `json:"calls"`  // pulls planned
	Stored     int       `json:"stored"` // rows stored
	Failed     int       `json:"failed"` // pulls that gave up
	Error      string    `json:"error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Datacube job statuses.
const (
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// DatacubeStore keeps datacube rows and backfill jobs. Implementations are
// safe for concurrent use.
type DatacubeStore interface {
	// PutDatacubeRow stores r, replacing the row of the same (AppID, API,
	// Begin, End).
	PutDatacubeRow(ctx context.Context, r *DatacubeRow) error
	// DatacubeRows returns the rows of appid for the apis whose Begin lies
	// in [from, to] (yyyymmdd), ordered by Begin then API.
	DatacubeRows(ctx context.Context, appid string, apis []string, from, to string) ([]*DatacubeRow, error)
	// CreateDatacubeJob stores a new job.
	CreateDatacubeJob(ctx context.Context, j *DatacubeJob) error
	// UpdateDatacubeJob replaces the counters, status, error and finish
	// time of the job, or returns an Error with code not_found.
	UpdateDatacubeJob(ctx context.Context, j *DatacubeJob) error
	// DatacubeJob returns the job id of appid, or an Error with code not_found.
	DatacubeJob(ctx context.Context, appid, id string) (*DatacubeJob, error)
	// RunningDatacubeJobs returns the jobs of every app still running,
	// oldest first (an instance resumes those whose own has died).
	RunningDatacubeJobs(ctx context.Context) ([]*DatacubeJob, error)
}
