package load

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miniback/miniback/sandbox"
)

// downPause is how long a virtual user of the closed model waits after a
// request that got no answer, so a target that is down is not hammered in
// a tight loop.
const downPause = 100 * time.Millisecond

// runner is one `miniback load` run: its users persist across the stages
// of FindMax.
type runner struct {
	cfg      Config
	hc       *http.Client
	pushes   *sandbox.Server // builds pushes as WeChat signs them; serves nothing
	users    []*user
	msgBase  int64
	msgSeq   atomic.Int64
	phoneSeq atomic.Int64
	stage    string
}

// Run validates cfg and runs it until its duration passes or ctx ends
// (Ctrl-C: the report covers what ran). demoAppID and demoPush give the
// sandbox-mode defaults. A target that is down or answers errors is not an
// error of Run: the report counts it.
func Run(ctx context.Context, cfg Config, demoAppID string, demoPush func() (token, aesKey, format string)) (*Report, error) {
	cfg = cfg.withDefaults(demoAppID, demoPush)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rn := newRunner(cfg)
	defer rn.pushes.Close()
	if cfg.FindMax {
		return rn.findMax(ctx)
	}
	return rn.stageReport(ctx, cfg.Rate), nil
}

func newRunner(cfg Config) *runner {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: max(cfg.Users, 64),
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	hc2 := *hc
	hc2.Timeout = cfg.Timeout
	pushes := sandbox.New(sandbox.Config{Apps: []sandbox.App{{
		AppID: cfg.AppID, Token: cfg.PushToken, AESKey: cfg.PushAESKey, MsgFormat: cfg.PushFormat,
		PushURL: cfg.Target + "/wx/portal/" + cfg.AppID,
	}}})
	run := strconv.FormatInt(time.Now().UnixNano()%1e12, 36)
	rn := &runner{cfg: cfg, hc: &hc2, pushes: pushes, msgBase: time.Now().UnixNano() / 1000 * 1000}
	for i := range cfg.Users {
		rn.users = append(rn.users, &user{name: "load-" + run + "-" + strconv.Itoa(i)})
	}
	return rn
}

// stageReport runs one stage at rate (0: closed model) for the configured
// duration and reports it.
func (rn *runner) stageReport(ctx context.Context, rate float64) *Report {
	start := time.Now()
	rec := newRecorder(start)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if rate > 0 {
			rn.open(ctx, rec, rate, stop)
		} else {
			rn.closed(ctx, rec, stop)
		}
	}()
	rn.clock(ctx, rec, stop, done)
	return rn.report(rec, rate, time.Since(start))
}

// clock ticks the recorder's series and the progress line every second
// until the duration passes or ctx ends, then stops the users and waits
// for them to finish their requests.
func (rn *runner) clock(ctx context.Context, rec *recorder, stop chan struct{}, done chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	end := time.NewTimer(rn.cfg.Duration)
	defer end.Stop()
	for {
		select {
		case now := <-t.C:
			rec.tick(now)
			if rn.cfg.Progress != nil {
				p := rec.progress(now)
				p.Stage = rn.stage
				rn.cfg.Progress(p)
			}
			continue
		case <-end.C:
		case <-ctx.Done():
		}
		break
	}
	close(stop)
	<-done
	rec.tick(time.Now())
}

// closed runs each user in a loop: the next step as soon as the last one
// answered.
func (rn *runner) closed(ctx context.Context, rec *recorder, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for i, u := range rn.users {
		wg.Go(func() {
			pick := rn.picker(uint64(i))
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				if rn.runStep(ctx, rec, u, pick(), time.Time{}) {
					select {
					case <-time.After(downPause):
					case <-stop:
					}
				}
			}
		})
	}
	wg.Wait()
}

// maxInFlight bounds the open model's concurrent steps; an arrival beyond
// it is counted as an error ("client overloaded") rather than queued
// without bound.
func (rn *runner) maxInFlight() int64 { return int64(max(10000, rn.cfg.Users*4)) }

// open starts steps at rate per second, each on the next user in turn,
// whatever the answers.
func (rn *runner) open(ctx context.Context, rec *recorder, rate float64, stop <-chan struct{}) {
	var wg sync.WaitGroup
	var inFlight atomic.Int64
	pick := rn.picker(math.MaxUint32)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for n := int64(0); ; n++ {
		due := start.Add(time.Duration(n) * interval)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-stop:
			case <-ctx.Done():
			}
		}
		select {
		case <-stop:
			wg.Wait()
			return
		case <-ctx.Done():
			wg.Wait()
			return
		default:
		}
		step, home := pick(), int(n%int64(len(rn.users)))
		if inFlight.Load() >= rn.maxInFlight() {
			rec.record(step, time.Since(due), outcome{code: "client overloaded"})
			continue
		}
		inFlight.Add(1)
		wg.Go(func() {
			defer inFlight.Add(-1)
			u := rn.acquire(home)
			defer u.mu.Unlock()
			rn.runLocked(ctx, rec, u, step, due)
		})
	}
}

// acquire locks the first idle user from home on, so that arrivals do not
// queue behind a busy user while others idle; when all are busy it waits
// for home. (Latency still counts from the arrival's due time.)
func (rn *runner) acquire(home int) *user {
	for i := range len(rn.users) {
		if u := rn.users[(home+i)%len(rn.users)]; u.mu.TryLock() {
			return u
		}
	}
	u := rn.users[home]
	u.mu.Lock()
	return u
}

// picker returns a function that draws steps by their weights in the mix.
func (rn *runner) picker(seed uint64) func() string {
	names := rn.cfg.Mix.names()
	total := 0
	for _, n := range names {
		total += rn.cfg.Mix[n]
	}
	r := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	return func() string {
		x := r.IntN(total)
		for _, n := range names {
			if x < rn.cfg.Mix[n] {
				return n
			}
			x -= rn.cfg.Mix[n]
		}
		return names[len(names)-1]
	}
}

// findMax runs stages of growing rate (×1.5 each) until one breaks the
// SLO (p99 over SLOP99, more than 1 % errors, or less than 90 % of the
// offered rate answered), then tries two rates between the last that held
// and the first that broke, and reports the highest rate that held.
func (rn *runner) findMax(ctx context.Context) (*Report, error) {
	rate := rn.cfg.Rate
	if rate == 0 {
		rate = 100
	}
	fm := &FindMax{SLOP99ms: ms(rn.cfg.SLOP99.Microseconds()), TargetRPS: rn.cfg.TargetRPS}
	var best, last *Report
	held, broke := 0.0, 0.0
	for i := 0; i < 40 && ctx.Err() == nil; i++ {
		rn.stage = fmt.Sprintf("stage %d at %.0f/s", i+1, rate)
		rep := rn.stageReport(ctx, rate)
		if ctx.Err() != nil {
			break // a stage cut short by Ctrl-C proves nothing
		}
		last = rep
		st := Stage{Rate: round3(rate), Achieved: rep.RPS, P99ms: rep.P99ms, ErrorRatio: round3(rep.errorRatio())}
		st.Held = st.P99ms <= fm.SLOP99ms && st.ErrorRatio <= 0.01 && st.Achieved >= 0.9*rate
		fm.Stages = append(fm.Stages, st)
		if st.Held {
			held = rate
			if st.Achieved > fm.Capacity {
				best, fm.Capacity = rep, st.Achieved
			}
		} else {
			broke = rate
		}
		switch {
		case broke == 0:
			rate *= 1.5
		case held == 0 || len(fm.Stages) >= 40 || refined(fm.Stages) >= 2:
			i = 40 // nothing held, or refined enough
		default:
			rate = math.Sqrt(held * broke)
		}
	}
	if best == nil { // no stage held: the report of the last one, which shows why
		best = last
	}
	if best == nil { // cut short before any stage ended
		best = &Report{Target: rn.cfg.Target, AppID: rn.cfg.AppID, Mix: rn.cfg.Mix.String(), Model: "open", Users: rn.cfg.Users}
	}
	if fm.TargetRPS > 0 && fm.Capacity > 0 {
		fm.Instances = Instances(fm.TargetRPS, fm.Capacity)
	}
	best.FindMax = fm
	return best, nil
}

// refined counts the stages run after the first that broke.
func refined(stages []Stage) int {
	for i, s := range stages {
		if !s.Held {
			return len(stages) - 1 - i
		}
	}
	return 0
}

// Instances is the sizing rule: enough instances of the given capacity
// for targetRPS with 20 % headroom, ceil(targetRPS × 1.2 / capacity).
func Instances(targetRPS, capacity float64) int {
	if capacity <= 0 {
		return 0
	}
	// The epsilon keeps float noise (1000 × 1.2 / 400 = 3.0000000000000004)
	// from asking for one instance more.
	return int(math.Ceil(targetRPS*1.2/capacity - 1e-9))
}
