package gateway

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BreakerConfig tunes every circuit breaker. A breaker opens after Failures
// consecutive failures, or when more than Ratio of at least MinCalls calls
// in one Window failed; it stays open for OpenFor, then lets Probes trial
// calls through (half-open) and closes when they all succeed.
type BreakerConfig struct {
	Failures int
	Ratio    float64
	MinCalls int
	Window   time.Duration
	OpenFor  time.Duration
	Probes   int
	// OnStateChange, when set, hears every transition (for logs and metrics).
	OnStateChange func(name string, from, to string)
	// OnCreate, when set, hears of every new breaker, closed (so that the
	// state gauge exists before the first transition).
	OnCreate func(name string)
}

// OpenError is returned instead of making a call while its breaker is open
// (or half-open with every probe slot taken). RetryAfter is how long until
// the breaker lets a probe through.
type OpenError struct {
	Name       string
	RetryAfter time.Duration
}

// CircuitOpen reports true: the WeChat client counts a call refused this way
// apart from network failures (wechat.Outcome "circuit_open").
func (e *OpenError) CircuitOpen() bool { return true }

func (e *OpenError) Error() string {
	return fmt.Sprintf("circuit breaker %s is open; retry in %s", e.Name, e.RetryAfter.Round(time.Second))
}

// Breaker is one circuit breaker over gobreaker's two-step breaker. It is
// safe for concurrent use.
type Breaker struct {
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
	openFor time.Duration
	opened  atomic.Int64 // unix nanos of the last transition to open
}

// errFailed marks a call that failed in the breaker's sense.
var errFailed = errors.New("call failed")

// NewBreaker returns a closed breaker named name.
func NewBreaker(name string, c BreakerConfig) *Breaker {
	b := &Breaker{openFor: c.OpenFor}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(c.Probes),
		Interval:    c.Window,
		Timeout:     c.OpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			if n.ConsecutiveFailures >= uint32(c.Failures) {
				return true
			}
			return n.Requests >= uint32(c.MinCalls) && float64(n.TotalFailures) > c.Ratio*float64(n.Requests)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.opened.Store(time.Now().UnixNano())
			}
			if c.OnStateChange != nil {
				c.OnStateChange(name, from.String(), to.String())
			}
		},
	})
	if c.OnCreate != nil {
		c.OnCreate(name)
	}
	return b
}

// Allow asks to make one call. When it may, done must be called with
// whether the call failed; otherwise the error is an *OpenError.
func (b *Breaker) Allow() (done func(failed bool), err error) {
	d, err := b.cb.Allow()
	if err != nil {
		// Open, or half-open with every probe taken: try again in a while.
		return nil, &OpenError{Name: b.cb.Name(), RetryAfter: max(b.RetryAfter(), time.Second)}
	}
	var once sync.Once
	return func(failed bool) {
		once.Do(func() {
			if failed {
				d(errFailed)
			} else {
				d(nil)
			}
		})
	}, nil
}

// State is "closed", "open" or "half-open".
func (b *Breaker) State() string { return b.cb.State().String() }

// RetryAfter is how long until an open breaker lets a probe through: at
// least one second while open, 0 when closed or half-open (calls may go).
func (b *Breaker) RetryAfter() time.Duration {
	if b.cb.State() != gobreaker.StateOpen {
		return 0
	}
	left := b.openFor - time.Since(time.Unix(0, b.opened.Load()))
	return max(left, time.Second)
}
