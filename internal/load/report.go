package load

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Report is what a run measured. Latencies are in milliseconds.
type Report struct {
	Target   string       `json:"target"`
	AppID    string       `json:"appid"`
	Model    string       `json:"model"` // "open" or "closed"
	Users    int          `json:"users"`
	Rate     float64      `json:"rate,omitempty"` // offered arrivals per second (open model)
	Mix      string       `json:"mix"`
	Seconds  float64      `json:"seconds"`
	Requests int64        `json:"requests"`
	Errors   int64        `json:"errors"`
	RPS      float64      `json:"rps"`
	P50ms    float64      `json:"p50_ms"`
	P90ms    float64      `json:"p90_ms"`
	P99ms    float64      `json:"p99_ms"`
	Maxms    float64      `json:"max_ms"`
	Steps    []StepReport `json:"steps"`
	Series   []Point      `json:"series"`
	FindMax  *FindMax     `json:"find_max,omitempty"`
}

// StepReport is one step's row. Statuses counts answers by HTTP status
// ("0" for requests that got none); Errors counts failures by status and
// error code ("401 unauthorized") or by what went wrong on the way.
type StepReport struct {
	Step      string           `json:"step"`
	Route     string           `json:"route"`
	Count     int64            `json:"count"`
	Rate      float64          `json:"rate"`
	P50ms     float64          `json:"p50_ms"`
	P90ms     float64          `json:"p90_ms"`
	P99ms     float64          `json:"p99_ms"`
	Maxms     float64          `json:"max_ms"`
	ErrorSum  int64            `json:"error_count"`
	Statuses  map[string]int64 `json:"statuses"`
	Errors    map[string]int64 `json:"errors,omitempty"`
	Histogram []Bucket         `json:"histogram"`
}

// Bucket is one bar of a latency histogram: Count requests took at most
// UpToms (and more than the previous bucket's bound).
type Bucket struct {
	UpToms float64 `json:"up_to_ms"`
	Count  int64   `json:"count"`
}

// FindMax is the result of --find-max.
type FindMax struct {
	SLOP99ms  float64 `json:"slo_p99_ms"`
	Stages    []Stage `json:"stages"`
	Capacity  float64 `json:"capacity_rps"` // the highest answered rate of a stage that held; 0 if none
	TargetRPS float64 `json:"target_rps,omitempty"`
	Instances int     `json:"instances,omitempty"` // ceil(TargetRPS × 1.2 / Capacity)
}

// Stage is one rate tried by --find-max.
type Stage struct {
	Rate       float64 `json:"rate"`
	Achieved   float64 `json:"achieved_rps"`
	P99ms      float64 `json:"p99_ms"`
	ErrorRatio float64 `json:"error_ratio"`
	Held       bool    `json:"held"`
}

func (r *Report) errorRatio() float64 {
	if r.Requests == 0 {
		return 1 // nothing answered: nothing held
	}
	return float64(r.Errors) / float64(r.Requests)
}

// Succeeded reports whether any request of the run was answered with 2xx.
func (r *Report) Succeeded() bool { return r.Requests > r.Errors }

// report turns what rec holds into a Report.
func (rn *runner) report(rec *recorder, rate float64, elapsed time.Duration) *Report {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	secs := elapsed.Seconds()
	r := &Report{
		Target: rn.cfg.Target, AppID: rn.cfg.AppID, Model: "closed", Users: rn.cfg.Users, Rate: rate,
		Mix: rn.cfg.Mix.String(), Seconds: round3(secs), Requests: rec.count, Errors: rec.errs,
		RPS: round3(float64(rec.count) / secs), P50ms: ms(rec.total.ValueAtQuantile(50)),
		P90ms: ms(rec.total.ValueAtQuantile(90)), P99ms: ms(rec.total.ValueAtQuantile(99)),
		Maxms: ms(rec.total.Max()), Series: append([]Point(nil), rec.series...),
	}
	if rate > 0 {
		r.Model = "open"
	}
	for _, name := range stepOrder {
		st := rec.steps[name]
		if st == nil {
			continue
		}
		sr := StepReport{
			Step: name, Route: stepRoutes[name], Count: st.count, Rate: round3(float64(st.count) / secs),
			P50ms: ms(st.hist.ValueAtQuantile(50)), P90ms: ms(st.hist.ValueAtQuantile(90)),
			P99ms: ms(st.hist.ValueAtQuantile(99)), Maxms: ms(st.hist.Max()),
			ErrorSum: st.errors, Statuses: map[string]int64{}, Histogram: buckets(st.hist),
		}
		for status, n := range st.statuses {
			sr.Statuses[strconv.Itoa(status)] = n
		}
		if len(st.failures) > 0 {
			sr.Errors = map[string]int64{}
			for k, n := range st.failures {
				sr.Errors[k] = n
			}
		}
		r.Steps = append(r.Steps, sr)
	}
	return r
}

// buckets rebins h into bars whose bounds grow by √2 from 0.1 ms, the
// shape a latency histogram is read in.
func buckets(h *hdr.Histogram) []Bucket {
	var out []Bucket
	var cur int64
	up := 0.1
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		for float64(b.To) > up*1000 {
			out = append(out, Bucket{UpToms: round3(up), Count: cur})
			cur, up = 0, up*math.Sqrt2
		}
		cur += b.Count
	}
	if cur > 0 {
		out = append(out, Bucket{UpToms: round3(up), Count: cur})
	}
	// Leading empty bars say nothing.
	for len(out) > 1 && out[0].Count == 0 {
		out = out[1:]
	}
	return out
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// WriteText writes r as the plain-text report.
func (r *Report) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	model := "closed model"
	if r.Model == "open" {
		model = fmt.Sprintf("open model, %.0f arrivals/s", r.Rate)
	}
	fmt.Fprintf(b, "miniback load: %s, app %s, %d users, %s, mix %s\n", r.Target, r.AppID, r.Users, model, r.Mix)
	fmt.Fprintf(b, "%.1f s: %d requests (%.1f/s), %d errors; p50 %s, p90 %s, p99 %s, max %s\n\n",
		r.Seconds, r.Requests, r.RPS, r.Errors, fmtMs(r.P50ms), fmtMs(r.P90ms), fmtMs(r.P99ms), fmtMs(r.Maxms))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tcount\trate/s\tp50\tp90\tp99\tmax\terrors\t")
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%d\t\n", s.Step, s.Count, s.Rate,
			fmtMs(s.P50ms), fmtMs(s.P90ms), fmtMs(s.P99ms), fmtMs(s.Maxms), s.ErrorSum)
	}
	tw.Flush()
	for _, s := range r.Steps {
		for _, k := range sortedKeys(s.Errors) {
			fmt.Fprintf(b, "  %s: %d × %s\n", s.Step, s.Errors[k], k)
		}
	}
	if r.Requests > 0 && !r.Succeeded() {
		fmt.Fprintln(b, "\nno request succeeded: is the target up, in sandbox mode, and serving this appid?")
	}
	if fm := r.FindMax; fm != nil {
		writeFindMax(b, fm)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFindMax(b *strings.Builder, fm *FindMax) {
	fmt.Fprintf(b, "\nfind-max (a stage holds with p99 ≤ %s, errors ≤ 1 %%, ≥ 90 %% of the rate answered):\n", fmtMs(fm.SLOP99ms))
	for _, s := range fm.Stages {
		verdict := "held"
		if !s.Held {
			verdict = "broke"
		}
		fmt.Fprintf(b, "  offered %8.0f/s  answered %8.1f/s  p99 %9s  errors %5.2f %%  %s\n",
			s.Rate, s.Achieved, fmtMs(s.P99ms), s.ErrorRatio*100, verdict)
	}
	if fm.Capacity == 0 {
		fmt.Fprintln(b, "capacity: no stage held")
		return
	}
	fmt.Fprintf(b, "capacity of this instance: %.0f requests/s\n", fm.Capacity)
	if fm.TargetRPS > 0 {
		fmt.Fprintf(b, "for %.0f requests/s: ceil(%.0f × 1.2 / %.0f) = %d instances\n", fm.TargetRPS, fm.TargetRPS, fm.Capacity, fm.Instances)
	}
}

func fmtMs(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.2fms", v)
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
