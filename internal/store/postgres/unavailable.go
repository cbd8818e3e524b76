package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err says the database cannot serve now
// rather than that the request was wrong: the server is unreachable, shut
// down or starting, the connection broke, the server is read-only, out of
// disk, memory or connections, a lock or statement timed out. Callers
// answer such errors 503 and retry later.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),       // insufficient resources: disk full, out of memory, too many connections
			strings.HasPrefix(pe.Code, "57P"),      // admin or crash shutdown, cannot connect now
			pe.Code == "25006",                     // read_only_sql_transaction
			pe.Code == "55P03",                     // lock_not_available
			pe.Code == "57014",                     // query_canceled (statement timeout)
			pe.Code == "40001", pe.Code == "40P01": // serialization failure or deadlock after the retries
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, context.DeadlineExceeded)
}
