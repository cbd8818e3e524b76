package load

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: 1 µs to 1 minute, 3 significant digits.
const (
	histMin    = 1
	histMax    = int64(time.Minute / time.Microsecond)
	histDigits = 3
)

func newHist() *hdr.Histogram { return hdr.New(histMin, histMax, histDigits) }

// outcome is what one request came back with.
type outcome struct {
	status int    // HTTP status; 0 for a transport failure
	code   string // the error code of SPEC's error JSON, or a transport failure's kind
}

func (o outcome) ok() bool { return o.status >= 200 && o.status < 300 }

// key names the outcome in a report's errors: "401 unauthorized",
// "502", "connection refused".
func (o outcome) key() string {
	switch {
	case o.status == 0:
		return o.code
	case o.code != "":
		return strconv.Itoa(o.status) + " " + o.code
	}
	return strconv.Itoa(o.status)
}

// transportKind names a failed round trip without its addresses.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, syscall.EMFILE):
		return "too many open files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port"
	}
	return "network error"
}

// stepStats is what was recorded for one step.
type stepStats struct {
	hist     *hdr.Histogram
	count    int64
	errors   int64
	statuses map[int]int64    // by HTTP status; 0 = no answer
	failures map[string]int64 // errors by outcome key
}

// Point is one second of the run: requests answered in it and their
// latencies (all steps together).
type Point struct {
	Second   int     `json:"second"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	Maxms    float64 `json:"max_ms"`
}

// recorder collects outcomes from every virtual user. It is safe for
// concurrent use.
type recorder struct {
	mu     sync.Mutex
	start  time.Time
	steps  map[string]*stepStats
	total  *hdr.Histogram
	window *hdr.Histogram // the current second
	wErrs  int64
	series []Point
	count  int64
	errs   int64
}

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, steps: map[string]*stepStats{}, total: newHist(), window: newHist()}
}

// record adds one request of step that took d.
func (r *recorder) record(step string, d time.Duration, o outcome) {
	us := max(d.Microseconds(), histMin)
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.steps[step]
	if st == nil {
		st = &stepStats{hist: newHist(), statuses: map[int]int64{}, failures: map[string]int64{}}
		r.steps[step] = st
	}
	// Values past the top are clamped: they still count, as 1 minute.
	_ = st.hist.RecordValue(min(us, histMax))
	_ = r.total.RecordValue(min(us, histMax))
	_ = r.window.RecordValue(min(us, histMax))
	st.count++
	r.count++
	st.statuses[o.status]++
	if !o.ok() {
		st.errors++
		r.errs++
		r.wErrs++
		st.failures[o.key()]++
	}
}

// tick closes the current second of the series.
func (r *recorder) tick(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.window
	sec := int(now.Sub(r.start).Round(time.Second) / time.Second)
	if n := len(r.series); n > 0 && sec <= r.series[n-1].Second {
		if w.TotalCount() == 0 {
			return // the last tick of a run that ended on a whole second
		}
		sec = r.series[n-1].Second + 1
	}
	r.series = append(r.series, Point{
		Second:   sec,
		Requests: w.TotalCount(), Errors: r.wErrs,
		P50ms: ms(w.ValueAtQuantile(50)), P90ms: ms(w.ValueAtQuantile(90)),
		P99ms: ms(w.ValueAtQuantile(99)), Maxms: ms(w.Max()),
	})
	w.Reset()
	r.wErrs = 0
}

// Progress is the live state of a run, for the progress line.
type Progress struct {
	Elapsed  time.Duration
	Requests int64
	Errors   int64
	Rate     float64 // requests per second in the last second
	P99ms    float64 // over the whole run so far
	Stage    string  // with FindMax: the stage running
}

func (r *recorder) progress(now time.Time) Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := Progress{Elapsed: now.Sub(r.start), Requests: r.count, Errors: r.errs, P99ms: ms(r.total.ValueAtQuantile(99))}
	if n := len(r.series); n > 0 {
		p.Rate = float64(r.series[n-1].Requests)
	}
	return p
}

// ms converts microseconds to milliseconds.
func ms(us int64) float64 { return float64(us) / 1000 }
