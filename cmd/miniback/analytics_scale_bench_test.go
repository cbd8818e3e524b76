package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/session"
	"github.com/miniback/miniback/internal/state/redis/redistest"
	"github.com/miniback/miniback/internal/store/storetest"
)

// BenchmarkIngestEventsThreeInstancesPostgres is BenchmarkIngestEvents on
// a deployment: three `miniback serve` processes on one PostgreSQL schema,
// one NATS JetStream stream (a queue.prefix of its own) and one Redis (a
// key prefix of its own), as production runs them. Parallel clients send
// the same batches of 20 events round-robin straight to the three
// instances (no load balancer, whose CPU would count against the two
// cores), and it reports the events answered 202 per second and, once
// the rollups count every event, the rate at which they were written. It
// then checks that PostgreSQL holds each event exactly once.
//
// The wall-clock rates depend on everything else on the machine, so it also
// reports events per CPU-second of the three instances together
// (events/miniback_cpu_s), of the PostgreSQL backends connected to the
// test database (events/pg_cpu_s; read from /proc, so only for a server on
// this host, and only meaningful when no one else uses that database) and
// of the load-generating clients (events/client_cpu_s).
//
//	MINIBACK_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	  go test -run '^$' -bench IngestEventsThreeInstancesPostgres -benchtime 4000x ./cmd/miniback
//
// MINIBACK_TEST_NATS_URL and MINIBACK_TEST_REDIS_URL name the other servers
// (defaults as for the deployment tests). MINIBACK_BENCH_CPUPROFILE=FILE
// writes a CPU profile of the first instance, its whole life, to FILE.
// Without MINIBACK_TEST_POSTGRES_URL (this benchmark creates a schema
// there) it is skipped, or fails under CI or REQUIRE_TEST_SERVERS.
func BenchmarkIngestEventsThreeInstancesPostgres(b *testing.B) {
	if os.Getenv("MINIBACK_TEST_POSTGRES_URL") == "" {
		msg := "MINIBACK_TEST_POSTGRES_URL is not set"
		if os.Getenv("CI") != "" || os.Getenv("REQUIRE_TEST_SERVERS") != "" {
			b.Fatal(msg)
		}
		b.Skip(msg + "; bash .ci/services starts PostgreSQL")
	}
	dbURL := storetest.PostgresURL(b) // a new schema, dropped at the end
	db := openBenchPostgres(b, dbURL)
	ins := startIngestDeployment(b, dbURL, 3, os.Getenv("MINIBACK_BENCH_CPUPROFILE"))

	urls := make([]string, len(ins))
	for i, in := range ins {
		urls[i] = in.base + "/api/v1/" + config.DemoAppID + "/events"
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	now := time.Now().UnixMilli()
	var seq atomic.Int64
	cpu0, pg0, self0 := instancesCPU(b, ins), pgBackendsCPU(b, db), cpuTime()
	start := time.Now()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			postBenchBatch(b, client, urls[n%int64(len(urls))], n, now)
		}
	})
	accepted := time.Since(start)
	b.StopTimer()
	total := int64(b.N) * 20
	b.ReportMetric(float64(total)/accepted.Seconds(), "accepted_events/s")
	waitRolledUp(b, db, total)
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "written_events/s")
	if cpu := instancesCPU(b, ins) - cpu0; cpu > 0 {
		b.ReportMetric(float64(total)/cpu.Seconds(), "events/miniback_cpu_s")
	}
	if pg := pgBackendsCPU(b, db).since(pg0); pg > 0 {
		b.ReportMetric(float64(total)/pg.Seconds(), "events/pg_cpu_s")
	}
	b.ReportMetric(float64(total)/(cpuTime()-self0).Seconds(), "events/client_cpu_s")

	var stored int64
	if err := db.QueryRow(`SELECT count(*) FROM events WHERE appid = $1 AND name = 'bench'`, config.DemoAppID).Scan(&stored); err != nil {
		b.Fatal(err)
	}
	if stored != total {
		b.Fatalf("PostgreSQL holds %d events; %d were accepted", stored, total)
	}
	if os.Getenv("MINIBACK_BENCH_CPUPROFILE") != "" {
		ins[0].stop(b) // the child writes its profile on the way out
	}
}

// startIngestDeployment starts n instances on dbURL, the shared NATS and
// the shared Redis, accepting anonymous events without a daily cap, and
// waits until each is ready. With profile set, the first one writes a CPU
// profile there when it stops.
func startIngestDeployment(b *testing.B, dbURL string, n int, profile string) []*instance {
	b.Helper()
	natsU, redisU := natsURL(b), redistest.URL(b)
	dir := b.TempDir()
	signing, seal := filepath.Join(dir, "signing.pem"), filepath.Join(dir, "seal.key")
	if _, err := session.LoadOrCreateSigningKey(signing); err != nil {
		b.Fatal(err)
	}
	if _, err := session.LoadOrCreateSealKey(seal); err != nil {
		b.Fatal(err)
	}
	redisPrefix := "bench:" + rand.Text()[:10] + ":"
	queuePrefix := "b" + strings.ToLower(rand.Text()[:10])
	b.Cleanup(func() { cleanupShared(b, redisPrefix, queuePrefix) })
	a := config.DemoApp()
	wechat := "http://" + freeAddr(b) // nothing listens: these events never call WeChat
	var ins []*instance
	for i := range n {
		in := &instance{name: fmt.Sprintf("i%d", i), addr: freeAddr(b)}
		in.base = "http://" + in.addr
		in.cfg = filepath.Join(dir, in.name+".yaml")
		in.log = filepath.Join(dir, in.name+".log")
		if i == 0 && profile != "" {
			in.env = []string{"MB_TEST_CPUPROFILE=" + profile}
		}
		yaml := fmt.Sprintf(`listen: %q
data_dir: %q
database:
  url: %q
redis:
  url: %q
  prefix: %q
queue:
  url: %q
  prefix: %q
wechat:
  api_base: %q
auth:
  signing_key_file: %q
  seal_key_file: %q
log:
  level: warn
analytics:
  anonymous: true
  max_events_per_user_per_day: 1073741824
  datacube_at: "off"
apps:
  - appid: %s
    secret: %s
    token: %s
    aes_key: %s
    msg_format: JSON
`, in.addr, filepath.Join(dir, in.name), dbURL, redisU, redisPrefix, natsU, queuePrefix, wechat, signing, seal,
			a.AppID, a.Secret, a.Token, a.AESKey)
		if err := os.WriteFile(in.cfg, []byte(yaml), 0o600); err != nil {
			b.Fatal(err)
		}
		ins = append(ins, in)
	}
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(func() { in.start(b) })
	}
	wg.Wait()
	for _, in := range ins {
		in.waitReady(b, 60*time.Second)
	}
	return ins
}

// stop ends the instance with SIGTERM and waits for it to exit, or kills
// it after 30 seconds.
func (in *instance) stop(tb testing.TB) {
	tb.Helper()
	if in.cmd == nil {
		return
	}
	done := make(chan error, 1)
	go func() { done <- in.cmd.Wait() }()
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("instance %s exited: %v", in.name, err)
		}
	case <-time.After(30 * time.Second):
		in.cmd.Process.Kill()
		<-done
		tb.Errorf("instance %s did not stop within 30s of SIGTERM", in.name)
	}
	in.cmd = nil
}

// runProfiled runs this process as miniback (see TestMain) with a CPU
// profile written to path, until SIGTERM.
func runProfiled(path string) int {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", err)
		return 1
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	code := exitCode(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr), os.Stderr)
	pprof.StopCPUProfile()
	return code
}

// openBenchPostgres opens one connection to the benchmark's schema (one,
// so that pgBackendsCPU can leave it out).
func openBenchPostgres(b *testing.B, dbURL string) *sql.DB {
	b.Helper()
	cc, err := pgx.ParseConfig(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	return db
}

// waitRolledUp waits until the hourly rollup of the "bench" events counts
// total: the raw events commit in the same transaction. It fails b when
// the count stops growing for a minute.
func waitRolledUp(b *testing.B, db *sql.DB, total int64) {
	b.Helper()
	var last int64
	progress := time.Now()
	for {
		var n int64
		if err := db.QueryRow(`SELECT COALESCE(SUM(events), 0) FROM event_hours WHERE appid = $1 AND name = 'bench'`, config.DemoAppID).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n >= total {
			return
		}
		if n > last {
			last, progress = n, time.Now()
		} else if time.Since(progress) > time.Minute {
			b.Fatalf("%d of %d events written, none for a minute", n, total)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// instancesCPU is the user and system CPU time the instances' processes
// have used so far.
func instancesCPU(b *testing.B, ins []*instance) time.Duration {
	b.Helper()
	var sum time.Duration
	for _, in := range ins {
		d, err := procCPU(in.cmd.Process.Pid)
		if err != nil {
			return 0 // no /proc: the metric is left out
		}
		sum += d
	}
	return sum
}

// backendsCPU is the CPU time each PostgreSQL backend has used, by pid.
type backendsCPU map[int]time.Duration

// since is the CPU time the backends in c used after those in old: a
// backend that started in between counts whole, one that ended is lost.
func (c backendsCPU) since(old backendsCPU) time.Duration {
	var sum time.Duration
	for pid, d := range c {
		sum += d - old[pid]
	}
	return sum
}

// pgBackendsCPU reads, from /proc, the CPU time of the backends connected
// to db's database other than db's own connection. It is empty when the
// server is not on this host.
func pgBackendsCPU(b *testing.B, db *sql.DB) backendsCPU {
	b.Helper()
	rows, err := db.Query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	out := backendsCPU{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		if d, err := procCPU(pid); err == nil {
			out[pid] = d
		}
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// procCPU is the user and system CPU time of process pid, from
// /proc/PID/stat (in clock ticks of 1/100 s, as on every Linux build Go
// supports).
func procCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after it; utime and stime are the 14th and 15th of the whole line.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
