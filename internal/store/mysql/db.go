// Package mysql stores miniback's users, sessions, inbox, outbound
// messages, media and cached codes in MySQL 8.0+ or MariaDB 10.6+, through
// github.com/go-sql-driver/mysql behind database/sql.
//
// The SQL is written out here for MySQL; the schema and the behaviour match
// the sqlite package, and both pass internal/store/storetest. Transactions
// run at READ COMMITTED, so a read after a lost insert race sees the
// winner's row; the decisions that must not race are conditional UPDATEs or
// rest on a row locked with SELECT … FOR UPDATE. Deadlocks, which InnoDB
// reports when concurrent inserts meet on a unique key, rerun the
// transaction.
//
// Times are stored as UTC unix milliseconds in BIGINT columns, so they
// round-trip exactly at millisecond precision. Every table is utf8mb4 with
// the binary collation: ids compare byte for byte.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/miniback/miniback"
)

// DB is one MySQL database. Set its fields before Open; after Open it is
// safe for concurrent use.
type DB struct {
	// URL is a mysql://user:pass@host:port/db?params URL; params are the
	// driver's DSN parameters (tls=…, timeout=…).
	URL string
	// Now returns the current time; it stamps applied migrations.
	Now func() time.Time
	// MaxOpenConns caps the pool; 0 means 4 × GOMAXPROCS.
	MaxOpenConns int
	// MaxIdleConns caps idle connections; 0 means MaxOpenConns.
	MaxIdleConns int
	// ConnMaxLifetime closes connections older than this; 0 keeps them.
	ConnMaxLifetime time.Duration

	db *sql.DB
}

// NewDB returns a DB for the URL u, not yet opened.
func NewDB(u string) *DB {
	return &DB{URL: u, Now: time.Now}
}

// ErrBadURL is wrapped by Open's error when the URL cannot be parsed; the
// error text never repeats the URL, which may hold a password.
var ErrBadURL = errors.New("mysql: malformed connection URL")

// ParseURL turns a mysql:// URL into the driver's configuration, with the
// settings miniback relies on: parseTime, utf8mb4, UTC, matched (not
// changed) rows counted by UPDATE, and a 5 s dial timeout unless the URL
// sets one. The error wraps ErrBadURL and never shows the password.
func ParseURL(raw string) (*mysql.Config, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "mysql" || u.Host == "" || u.User == nil {
		return nil, ErrBadURL
	}
	host := u.Host
	if u.Port() == "" {
		host += ":3306"
	}
	pass, _ := u.User.Password()
	dsn := "tcp(" + host + ")/" + strings.TrimPrefix(u.Path, "/")
	if u.RawQuery != "" {
		dsn += "?" + u.RawQuery
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	cfg.User, cfg.Passwd = u.User.Username(), pass
	if cfg.DBName == "" {
		return nil, fmt.Errorf("%w: no database name", ErrBadURL)
	}
	cfg.ParseTime, cfg.ClientFoundRows, cfg.Loc = true, true, time.UTC
	cfg.Collation = "utf8mb4_general_ci"
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return cfg, nil
}

// Open parses the URL, opens the pool and checks that the server answers.
// It returns an error wrapping ErrBadURL for a URL it cannot parse, and the
// server's error (wrong password, unknown database, unreachable) otherwise.
// Call Migrate before using the stores.
func (db *DB) Open(ctx context.Context) error {
	if db.Now == nil {
		db.Now = time.Now
	}
	cfg, err := ParseURL(db.URL)
	if err != nil {
		return err
	}
	cfg.Logger = quietLogger{}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	db.db = sql.OpenDB(conn)
	open := db.MaxOpenConns
	if open <= 0 {
		open = 4 * runtime.GOMAXPROCS(0)
	}
	idle := db.MaxIdleConns
	if idle <= 0 {
		idle = open
	}
	db.db.SetMaxOpenConns(open)
	db.db.SetMaxIdleConns(idle)
	db.db.SetConnMaxLifetime(db.ConnMaxLifetime)
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return err
	}
	return nil
}

// quietLogger drops the driver's own log lines ("unexpected EOF" and the
// like); every failure also comes back as an error, which miniback logs
// once at the edge.
type quietLogger struct{}

func (quietLogger) Print(...any) {}

// Ping checks that the server answers a query and accepts writes (a
// read-only server fails it).
func (db *DB) Ping(ctx context.Context) error {
	if db.db == nil {
		return errors.New("mysql: ping: database is not open")
	}
	var readOnly int
	if err := db.db.QueryRowContext(ctx, `SELECT @@global.read_only`).Scan(&readOnly); err != nil {
		return fmt.Errorf("mysql: ping: %w", err)
	}
	if readOnly != 0 {
		return errors.New("mysql: ping: the server is read-only")
	}
	return nil
}

// Stats returns the pool's statistics, for the metrics of the connection
// pool. A DB that is not open reports zeros.
func (db *DB) Stats() sql.DBStats {
	if db.db == nil {
		return sql.DBStats{}
	}
	return db.db.Stats()
}

// Close closes the pool. Closing a DB that is not open is not an error.
func (db *DB) Close() error {
	if db.db == nil {
		return nil
	}
	err := db.db.Close()
	db.db = nil
	if err != nil {
		return fmt.Errorf("mysql: close: %w", err)
	}
	return nil
}

// withTx runs fn in a READ COMMITTED transaction and commits it when fn
// returns nil. A deadlock reruns fn, up to five times in all.
func (db *DB) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var err error
	for range 5 {
		if err = db.tryTx(ctx, fn); !isDeadlock(err) {
			return err
		}
	}
	return err
}

// tryTx runs fn once in a transaction.
func (db *DB) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// MySQL error numbers miniback tells apart.
const (
	errDupEntry     = 1062
	errDeadlock     = 1213
	errNoReferenced = 1452
)

// errNumber returns the MySQL error number of err, or 0.
func errNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func isDeadlock(err error) bool { return errNumber(err) == errDeadlock }

func isDuplicate(err error) bool { return errNumber(err) == errDupEntry }

// constraintError turns a uniqueness violation into a conflict Error and a
// foreign-key violation into a not_found Error naming what, and returns any
// other error unchanged.
func constraintError(err error, what string) error {
	switch errNumber(err) {
	case errDupEntry:
		return miniback.WrapError(miniback.ECodeConflict, what+" already exists", err)
	case errNoReferenced:
		return miniback.WrapError(miniback.ECodeNotFound, what+" refers to a missing row", err)
	}
	return err
}

// nonNilBytes turns nil into an empty slice, which the NOT NULL column takes.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
