package sandbox

// The sandbox keeps everything in memory, and a load test can push
// millions of codes, users and messages through it: each kind is bounded,
// oldest first. Codes of one kind all live CodeTTL, so their insertion
// order is also their expiry order and one queue serves both the expiry
// and the bound.

// Default bounds of Config. A load tool may mint its codes in bulk before
// using them (50,000 for one login run): the code bound leaves room for two
// such runs at once.
const (
	DefaultMaxCodes      = 100_000   // outstanding wx.login codes, and phone-number codes
	DefaultMaxUsers      = 100_000   // users per app
	DefaultMaxMediaBytes = 256 << 20 // temporary media, all apps together
	DefaultMaxSent       = 10_000    // messages GET /sandbox/sent remembers
)

// keyQueue is the insertion order of a map's keys. It may hold keys
// already deleted from the map; they are skipped when reached.
type keyQueue struct {
	keys []string
	head int
}

func (q *keyQueue) push(k string) { q.keys = append(q.keys, k) }

// front returns the oldest key, if any.
func (q *keyQueue) front() (string, bool) {
	if q.head == len(q.keys) {
		return "", false
	}
	return q.keys[q.head], true
}

// pop drops the oldest key, and compacts the slice once half of it is
// spent so the queue's memory follows the map's.
func (q *keyQueue) pop() {
	q.keys[q.head] = ""
	q.head++
	if q.head > 1024 && q.head*2 > len(q.keys) {
		q.keys = append([]string(nil), q.keys[q.head:]...)
		q.head = 0
	}
}

// trimCodes forgets expired login and phone codes and, beyond MaxCodes,
// the oldest ones (a forgotten code answers 40029 as an expired one does).
// Called with s.mu held after each new code.
func (s *Server) trimCodes() {
	now := s.now()
	for k, ok := s.codeOrder.front(); ok; k, ok = s.codeOrder.front() {
		if c, live := s.codes[k]; live && len(s.codes) <= s.cfg.MaxCodes && now.Before(c.Expires) {
			break
		}
		delete(s.codes, k)
		s.codeOrder.pop()
	}
	for k, ok := s.phoneOrder.front(); ok; k, ok = s.phoneOrder.front() {
		if c, live := s.phoneCodes[k]; live && len(s.phoneCodes) <= s.cfg.MaxCodes && now.Before(c.Expires) {
			break
		}
		delete(s.phoneCodes, k)
		s.phoneOrder.pop()
	}
}

// trimUsers forgets the app's oldest users beyond maxUsers. A forgotten
// user who logs in again is made anew (same openid for the same "user"),
// with a new session key, as after a long absence.
func (a *appState) trimUsers() {
	for len(a.users) > a.maxUsers {
		k, ok := a.userOrder.front()
		if !ok {
			return
		}
		delete(a.users, k)
		a.userOrder.pop()
	}
}

// trimMedia forgets expired media and, beyond MaxMediaBytes, the oldest.
func (s *Server) trimMedia() {
	now := s.now()
	for k, ok := s.mediaOrder.front(); ok; k, ok = s.mediaOrder.front() {
		m, live := s.media[k]
		if live && s.mediaBytes <= s.cfg.MaxMediaBytes && now.Before(m.Expires) {
			break
		}
		if live {
			s.mediaBytes -= int64(len(m.Data))
			delete(s.media, k)
		}
		s.mediaOrder.pop()
	}
}

// trimSent keeps the newest MaxSent sent messages.
func (s *Server) trimSent() {
	if extra := len(s.sent) - s.cfg.MaxSent; extra > 0 && extra*2 > s.cfg.MaxSent {
		s.sent = append([]SentMessage(nil), s.sent[extra:]...)
	}
}
