package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Defaults of the servers the engine tests use; MINIBACK_TEST_POSTGRES_URL
// and MINIBACK_TEST_MYSQL_URL override them.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultMySQLURL    = "mysql://root@127.0.0.1:3306/test"
)

// PostgresURL returns the URL of a new, empty schema on the test
// PostgreSQL server, dropped when tb ends. Without a server, tb is skipped
// with a message, or fails when REQUIRE_TEST_SERVERS or CI is set.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := serverURL(tb, "MINIBACK_TEST_POSTGRES_URL", DefaultPostgresURL)
	cc, err := pgx.ParseConfig(base)
	if err != nil {
		tb.Fatalf("MINIBACK_TEST_POSTGRES_URL: %v", err)
	}
	db := stdlib.OpenDB(*cc)
	defer db.Close()
	schema := "t_" + strings.ToLower(rand.Text()[:12])
	exec(tb, db, `CREATE SCHEMA `+schema)
	tb.Cleanup(func() { dropWith(tb, stdlib.OpenDB(*cc), `DROP SCHEMA `+schema+` CASCADE`) })
	return withParam(base, "search_path", schema)
}

// MySQLURL returns the URL of a new, empty database on the test MySQL or
// MariaDB server, named after the configured one, dropped when tb ends.
// Without a server, tb is skipped or fails as for PostgresURL.
func MySQLURL(tb testing.TB) string {
	tb.Helper()
	base := serverURL(tb, "MINIBACK_TEST_MYSQL_URL", DefaultMySQLURL)
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("MINIBACK_TEST_MYSQL_URL: %v", err)
	}
	pass, _ := u.User.Password()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = u.User.Username(), pass, "tcp", u.Host
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	name := strings.TrimPrefix(u.Path, "/") + "_" + strings.ToLower(rand.Text()[:10])
	exec(tb, db, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
	tb.Cleanup(func() { dropWith(tb, sql.OpenDB(conn), "DROP DATABASE `"+name+"`") })
	u.Path = "/" + name
	return u.String()
}

// serverURL returns the URL in env (or def) after checking that its host
// accepts TCP connections.
func serverURL(tb testing.TB, env, def string) string {
	tb.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("%s: %v", env, err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("REQUIRE_TEST_SERVERS") != "" {
			tb.Fatalf("no server at %s (%s): %v", u.Host, env, err)
		}
		tb.Skipf("no server at %s (%s); bash .ci/services starts one", u.Host, env)
	}
	c.Close()
	return raw
}

func exec(tb testing.TB, db *sql.DB, q string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, q); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// dropWith runs the drop statement q on db and closes db.
func dropWith(tb testing.TB, db *sql.DB, q string) {
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, q); err != nil {
		tb.Errorf("cleanup: %s: %v", q, err)
	}
}

// withParam returns raw with the query parameter k set to v.
func withParam(raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(fmt.Sprintf("withParam: %v", err))
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}
