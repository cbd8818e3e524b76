package analytics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"github.com/miniback/miniback"
)

// LoginEvent is the name of the event miniback records itself for every
// login, so that funnels and retention can start from logins.
const LoginEvent = "login"

// publishTimeout bounds a publish of login events, which no request
// context bounds (it carries several logins): JetStream's own default.
const publishTimeout = 5 * time.Second

// loginGroup is the login events of one app that one publish carries.
type loginGroup struct {
	batch miniback.EventBatch
	id    []byte // the session ids, hashed into the batch id
	done  chan struct{}
	err   error
}

// loginPublisher coalesces the login events of concurrent logins: while
// one publish of login events is in flight, the logins that come in join
// one group per app, which the next publish carries as one batch. A quiet
// login is published alone and at once; under load, one JetStream message
// (one publish, one delivery, one ack) carries many logins.
type loginPublisher struct {
	mu   sync.Mutex
	open map[string]*loginGroup // by appid, still taking events
	pub  sync.Mutex             // held by the publish in flight
}

// RecordLogin queues a "login" event of user at at, once per session,
// outside the daily cap, and returns once the queue holds it. It fails
// only when the queue does not take it.
func (s *Service) RecordLogin(ctx context.Context, appid string, user int64, sessionID string, at time.Time) error {
	if s.queue == nil {
		return nil
	}
	lp := &s.logins
	lp.mu.Lock()
	g := lp.open[appid]
	leader := g == nil
	if leader {
		g = &loginGroup{batch: miniback.EventBatch{AppID: appid}, done: make(chan struct{})}
		lp.open[appid] = g
	}
	g.batch.Events = append(g.batch.Events, miniback.Event{Name: LoginEvent, TS: at.UnixMilli(), User: "u:" + strconv.FormatInt(user, 10)})
	g.id = append(append(g.id, sessionID...), 0)
	if len(g.batch.Events) == miniback.MaxEventsPerBatch {
		delete(lp.open, appid) // full: the next login starts a group
	}
	lp.mu.Unlock()
	if !leader {
		select {
		case <-g.done:
			return g.err
		case <-ctx.Done():
			return ctx.Err() // the group is published all the same
		}
	}
	lp.pub.Lock()
	lp.mu.Lock()
	if lp.open[appid] == g {
		delete(lp.open, appid)
	}
	lp.mu.Unlock()
	sum := sha256.Sum256(append([]byte("login\x00"+appid+"\x00"), g.id...))
	g.batch.ID = hex.EncodeToString(sum[:16])
	// The followers' logins ride on this publish: the leader's request
	// ending must not cancel it.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	g.err = s.publish(pctx, &g.batch)
	cancel()
	lp.pub.Unlock()
	close(g.done)
	return g.err
}
