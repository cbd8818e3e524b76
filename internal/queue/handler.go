package queue

import (
	"context"
	"errors"
	"time"
)

// Delivery is one delivery of a message to a Handler.
type Delivery struct {
	Subject string
	Data    []byte
	MsgID   string // the msgID given to Publish, "" for none
	Attempt int    // 1 on the first delivery
}

// Handler does the work of one delivery. Its error decides the ack: nil
// acknowledges the message (only after Handler returned, so a crash while it
// runs redelivers the message); an error from RetryAfter redelivers it after
// the given delay; an error from Drop terminates it (never redelivered); any
// other error redelivers it with an exponential backoff. A panic counts as an
// error.
type Handler func(ctx context.Context, d *Delivery) error

// retryError asks for redelivery after delay.
type retryError struct {
	delay time.Duration
	err   error
}

func (e *retryError) Error() string {
	if e.err == nil {
		return "queue: retry after " + e.delay.String()
	}
	return e.err.Error()
}

func (e *retryError) Unwrap() error { return e.err }

// dropError asks for termination.
type dropError struct{ err error }

func (e *dropError) Error() string {
	if e.err == nil {
		return "queue: dropped"
	}
	return e.err.Error()
}

func (e *dropError) Unwrap() error { return e.err }

// RetryAfter returns an error that makes the consumer redeliver the message
// after d (a negative d counts as 0). err, which may be nil, says why and
// stays reachable through errors.Is and errors.As.
func RetryAfter(d time.Duration, err error) error {
	return &retryError{delay: max(d, 0), err: err}
}

// Drop returns an error that makes the consumer terminate the message: it is
// removed and never redelivered. err, which may be nil, says why.
func Drop(err error) error {
	return &dropError{err: err}
}

// retryDelay is the delay of a plain handler error on attempt n (from 1):
// base·2^(n-1), capped at maxRetryDelay.
func retryDelay(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

func asRetry(err error) (*retryError, bool) {
	var r *retryError
	ok := errors.As(err, &r)
	return r, ok
}

func asDrop(err error) bool {
	var d *dropError
	return errors.As(err, &d)
}
