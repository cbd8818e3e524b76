package outbox

import "time"

// backoff is the delay before attempt n+1 after n failed attempts (n ≥ 1):
// a random point in [0, min(base·2^(n-1), maxDelay)] chosen by r ∈ [0, 1)
// ("full jitter", which spreads the retries of messages that failed
// together).
func backoff(base, maxDelay time.Duration, n int, r float64) time.Duration {
	ceiling := base
	for i := 1; i < n && ceiling < maxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, maxDelay)
	return time.Duration(r * float64(ceiling))
}
