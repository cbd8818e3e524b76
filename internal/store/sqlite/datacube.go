package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

var _ miniback.DatacubeStore = (*DatacubeStore)(nil)

// DatacubeStore keeps WeChat's datacube answers and backfill jobs in a DB.
// It is safe for concurrent use.
type DatacubeStore struct {
	db *DB
}

// NewDatacubeStore returns a DatacubeStore on db, which must be open and
// migrated.
func NewDatacubeStore(db *DB) *DatacubeStore {
	return &DatacubeStore{db: db}
}

// PutDatacubeRow implements miniback.DatacubeStore.
func (s *DatacubeStore) PutDatacubeRow(ctx context.Context, r *miniback.DatacubeRow) error {
	_, err := s.db.write.ExecContext(ctx, `INSERT INTO datacube_rows (appid, begin_date, api, end_date, data, fetched_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (appid, api, begin_date, end_date) DO UPDATE SET data = excluded.data, fetched_at = excluded.fetched_at`,
		r.AppID, r.Begin, r.API, r.End, string(r.Data), sqlrow.Millis(r.FetchedAt))
	if err != nil {
		return fmt.Errorf("sqlite: put datacube row: %w", err)
	}
	return nil
}

// DatacubeRows implements miniback.DatacubeStore.
func (s *DatacubeStore) DatacubeRows(ctx context.Context, appid string, apis []string, from, to string) ([]*miniback.DatacubeRow, error) {
	out := []*miniback.DatacubeRow{}
	if len(apis) == 0 {
		return out, nil
	}
	args := []any{appid, from, to}
	for _, a := range apis {
		args = append(args, a)
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT api, begin_date, end_date, data, fetched_at FROM datacube_rows
		WHERE appid = ? AND begin_date >= ? AND begin_date <= ? AND api IN (`+placeholders(len(apis))+`)
		ORDER BY begin_date, api, end_date`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: datacube rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r := &miniback.DatacubeRow{AppID: appid}
		var data string
		var fetched int64
		if err := rows.Scan(&r.API, &r.Begin, &r.End, &data, &fetched); err != nil {
			return nil, fmt.Errorf("sqlite: datacube rows: %w", err)
		}
		r.Data, r.FetchedAt = []byte(data), sqlrow.FromMillis(fetched)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: datacube rows: %w", err)
	}
	return out, nil
}

// CreateDatacubeJob implements miniback.DatacubeStore.
func (s *DatacubeStore) CreateDatacubeJob(ctx context.Context, j *miniback.DatacubeJob) error {
	_, err := s.db.write.ExecContext(ctx, `INSERT INTO datacube_jobs (id, appid, from_date, to_date, status, calls, stored, failed, error, created_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.AppID, j.From, j.To, j.Status, j.Calls, j.Stored, j.Failed, j.Error, sqlrow.Millis(j.CreatedAt), sqlrow.NullMillis(j.FinishedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create datacube job: %w", err)
	}
	return nil
}

// UpdateDatacubeJob implements miniback.DatacubeStore.
func (s *DatacubeStore) UpdateDatacubeJob(ctx context.Context, j *miniback.DatacubeJob) error {
	res, err := s.db.write.ExecContext(ctx, `UPDATE datacube_jobs SET status = ?, calls = ?, stored = ?, failed = ?, error = ?, finished_at = ?
		WHERE appid = ? AND id = ?`, j.Status, j.Calls, j.Stored, j.Failed, j.Error, sqlrow.NullMillis(j.FinishedAt), j.AppID, j.ID)
	if err != nil {
		return fmt.Errorf("sqlite: update datacube job: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return miniback.Errorf(miniback.ECodeNotFound, "no such sync job")
	}
	return nil
}

// DatacubeJob implements miniback.DatacubeStore.
func (s *DatacubeStore) DatacubeJob(ctx context.Context, appid, id string) (*miniback.DatacubeJob, error) {
	j, err := sqlrow.DatacubeJob(s.db.read.QueryRowContext(ctx, `SELECT `+sqlrow.DatacubeJobColumns+`
		FROM datacube_jobs WHERE appid = ? AND id = ?`, appid, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, miniback.Errorf(miniback.ECodeNotFound, "no such sync job")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: datacube job: %w", err)
	}
	return j, nil
}

// RunningDatacubeJobs implements miniback.DatacubeStore.
func (s *DatacubeStore) RunningDatacubeJobs(ctx context.Context) ([]*miniback.DatacubeJob, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+sqlrow.DatacubeJobColumns+`
		FROM datacube_jobs WHERE status = ? ORDER BY created_at, id`, miniback.JobRunning)
	if err != nil {
		return nil, fmt.Errorf("sqlite: running datacube jobs: %w", err)
	}
	defer rows.Close()
	var out []*miniback.DatacubeJob
	for rows.Next() {
		j, err := sqlrow.DatacubeJob(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: running datacube jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: running datacube jobs: %w", err)
	}
	return out, nil
}
