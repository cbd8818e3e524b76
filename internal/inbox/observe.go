package inbox

import "time"

// Observer is told what happens to pushes, for metrics (internal/metrics
// implements it). Its methods must be fast and safe for concurrent use.
// Results are the words of SPEC §8.1.
type Observer interface {
	// PushReceived reports one push to a configured app with one of the
	// Received… results.
	PushReceived(appid, result string)
	// PushHandled reports one handler run with one of the Handled… results.
	PushHandled(handler, result string)
	// PushLag reports the time from a push's receipt to the end of its
	// handling (handled or failed).
	PushLag(d time.Duration)
}

// Results of PushReceived.
const (
	ReceivedStored           = "stored"
	ReceivedDuplicate        = "duplicate"
	ReceivedRefusedSignature = "refused_signature" // signature, msg_signature or no token
	ReceivedRefusedStale     = "refused_stale"     // timestamp outside MaxAge
	ReceivedRefusedBody      = "refused_body"      // too large, malformed, undecryptable
	ReceivedUnavailable      = "unavailable"       // the store or the queue failed
)

// Results of PushHandled.
const (
	HandledOK     = "ok"
	HandledFailed = "failed"
	// HandledRetried: the handler failed while the instance was stopping;
	// the push stays received and is handled again on redelivery.
	HandledRetried = "retried"
)

type noObserver struct{}

func (noObserver) PushReceived(appid, result string)  {}
func (noObserver) PushHandled(handler, result string) {}
func (noObserver) PushLag(d time.Duration)            {}

func observerOr(o Observer) Observer {
	if o == nil {
		return noObserver{}
	}
	return o
}
