package main

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/store/mysql"
	"github.com/miniback/miniback/internal/store/postgres"
	"github.com/miniback/miniback/internal/store/sqlite"
)

// database is the SQL engine database.url names, seen as the stores the
// rest of Main uses. Nothing outside openDatabase knows which engine it is.
type database struct {
	Users    miniback.UserStore
	Sessions miniback.SessionStore
	Inbox    miniback.InboxStore
	Messages miniback.MessageStore
	Media    miniback.MediaStore
	Stats    miniback.StatsStore
	Purge    miniback.PurgeStore
	Events   miniback.EventStore
	Datacube miniback.DatacubeStore
	Pay      miniback.PayStore // nil: the engine does not store orders yet

	// ApplyMigrations applies the engine's missing migrations, safely when
	// several instances start at once, and returns the versions it applied.
	ApplyMigrations func(context.Context) ([]int, error)
	// Ping is the /readyz check of the database: SQLite probes a write
	// (sqlite.DB.ProbeWrite), so a full disk or a locked file fails it.
	Ping func(context.Context) error
	// IsUnavailable reports whether an error of the engine means "cannot
	// serve now" (the request answers 503), not a fault of miniback's.
	IsUnavailable func(error) bool
	PoolStats     func() sql.DBStats // for the pool metrics
	Close         func() error
}

// Migrate applies the missing migrations.
func (d *database) Migrate(ctx context.Context) error {
	_, err := d.ApplyMigrations(ctx)
	return err
}

// openDatabase opens the SQL engine named by database.url's scheme. A URL
// the engine cannot parse or connect with (unreachable, wrong password,
// unknown database) is a *config.Error naming database.url; its text never
// holds the password.
func openDatabase(ctx context.Context, cfg config.Config) (*database, error) {
	u := cfg.Database.URL
	scheme, _, _ := strings.Cut(u, "://")
	var d *database
	var err error
	switch scheme {
	case "sqlite":
		d, err = openSQLite(ctx, strings.TrimPrefix(u, "sqlite://"))
	case "postgres", "postgresql":
		d, err = openPostgres(ctx, cfg.Database)
	case "mysql":
		d, err = openMySQL(ctx, cfg.Database)
	default:
		return nil, &config.Error{Key: "database.url", Msg: "scheme must be sqlite, postgres, postgresql or mysql"}
	}
	if err != nil {
		msg := "cannot connect"
		if errors.Is(err, postgres.ErrBadURL) || errors.Is(err, mysql.ErrBadURL) {
			msg = "is malformed"
		}
		return nil, &config.Error{Key: "database.url", Msg: msg, Err: err}
	}
	return d, nil
}

// openSQLite opens sqlite://PATH[?busy_timeout=DURATION].
func openSQLite(ctx context.Context, rest string) (*database, error) {
	path, query, _ := strings.Cut(rest, "?")
	db := sqlite.NewDB(path)
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, &config.Error{Key: "database.url", Msg: "has a malformed query"}
	}
	for k, v := range params {
		d, err := time.ParseDuration(v[len(v)-1])
		if k != "busy_timeout" || err != nil || d <= 0 {
			return nil, &config.Error{Key: "database.url", Msg: "sqlite takes only busy_timeout=DURATION (such as 5s) after ?"}
		}
		db.BusyTimeout = d
	}
	if err := db.Open(ctx); err != nil {
		return nil, err
	}
	return &database{
		Users: sqlite.NewUserStore(db), Sessions: sqlite.NewSessionStore(db),
		Inbox: sqlite.NewInboxStore(db), Messages: sqlite.NewMessageStore(db),
		Media: sqlite.NewMediaStore(db), Stats: sqlite.NewStatsStore(db), Purge: sqlite.NewPurgeStore(db),
		Events: sqlite.NewEventStore(db), Datacube: sqlite.NewDatacubeStore(db),
		Pay:             sqlite.NewPayStore(db),
		ApplyMigrations: db.ApplyMigrations, Ping: db.ProbeWrite, IsUnavailable: sqlite.IsUnavailable,
		PoolStats: db.Stats, Close: db.Close,
	}, nil
}

func openPostgres(ctx context.Context, c config.Database) (*database, error) {
	db := postgres.NewDB(c.URL)
	db.MaxOpenConns, db.MaxIdleConns, db.ConnMaxLifetime = c.MaxOpenConns, c.MaxIdleConns, c.ConnMaxLifetime
	if err := db.Open(ctx); err != nil {
		return nil, err
	}
	return &database{
		Users: postgres.NewUserStore(db), Sessions: postgres.NewSessionStore(db),
		Inbox: postgres.NewInboxStore(db), Messages: postgres.NewMessageStore(db),
		Media: postgres.NewMediaStore(db), Stats: postgres.NewStatsStore(db), Purge: postgres.NewPurgeStore(db),
		Events: postgres.NewEventStore(db), Datacube: postgres.NewDatacubeStore(db),
		Pay:             postgres.NewPayStore(db),
		ApplyMigrations: db.ApplyMigrations, Ping: db.Ping, IsUnavailable: postgres.IsUnavailable,
		PoolStats: db.Stats, Close: db.Close,
	}, nil
}

func openMySQL(ctx context.Context, c config.Database) (*database, error) {
	db := mysql.NewDB(c.URL)
	db.MaxOpenConns, db.MaxIdleConns, db.ConnMaxLifetime = c.MaxOpenConns, c.MaxIdleConns, c.ConnMaxLifetime
	if err := db.Open(ctx); err != nil {
		return nil, err
	}
	return &database{
		Users: mysql.NewUserStore(db), Sessions: mysql.NewSessionStore(db),
		Inbox: mysql.NewInboxStore(db), Messages: mysql.NewMessageStore(db),
		Media: mysql.NewMediaStore(db), Stats: mysql.NewStatsStore(db), Purge: mysql.NewPurgeStore(db),
		Events: mysql.NewEventStore(db), Datacube: mysql.NewDatacubeStore(db),
		Pay:             mysql.NewPayStore(db),
		ApplyMigrations: db.ApplyMigrations, Ping: db.Ping, IsUnavailable: mysql.IsUnavailable,
		PoolStats: db.Stats, Close: db.Close,
	}, nil
}
