package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/go-sql-driver/mysql"
)

// IsUnavailable reports whether err says the database cannot serve now
// rather than that the request was wrong: the server is unreachable or
// going away, the connection broke, the server is read-only, full or out
// of connections, a lock wait or statement timed out. Callers answer such
// errors 503 and retry later.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	switch errNumber(err) {
	case 1021, // disk full
		1040,       // too many connections
		1053,       // server shutdown in progress
		1114,       // table is full
		1205,       // lock wait timeout
		1213,       // deadlock after the retries
		1290, 1836, // read-only server
		1927, // connection killed
		3024: // statement timeout
		return true
	case 0:
	default:
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, context.DeadlineExceeded)
}
