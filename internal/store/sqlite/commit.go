package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// maxBatch is the most write transactions one commit carries.
const maxBatch = 128

// committer gathers the write transactions that arrive while another is
// running into one SQLite transaction (group commit). The write pool has
// one connection, so concurrent writers queue anyway; running the queue as
// one transaction writes each hot page (the users and sessions leaves, the
// inbox's last page, their indexes) to the WAL once per batch instead of
// once per caller, and costs one BEGIN and one COMMIT. Each caller's work
// runs inside its own savepoint, so a caller whose function fails undoes
// only its own statements; every caller learns its result after the
// commit, so an answer of success always means committed.
//
// There is no background goroutine: the first caller to find no batch
// running leads, runs the queue (its own transaction first) and hands the
// lead to the first caller still waiting.
type committer struct {
	mu      sync.Mutex
	queue   []*txCall
	leading bool
	commits int // committed or rolled back batches, for tests
}

// txCall is one caller's transaction function and, once done is closed,
// its result.
type txCall struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	err  error
	lead bool          // set when this caller is to lead the next batch
	done chan struct{} // closed when err is final or lead is set
}

// withTx runs fn in a write transaction, together with the other callers'
// functions queued at the same moment, and returns fn's error or the
// commit's. fn runs with ctx stripped of its cancellation: a caller that
// goes away mid-statement must not interrupt the shared transaction. A
// caller whose ctx is done before its turn is not run at all. Errors of a
// database that cannot take writes are classified by unavailable.
func (db *DB) withTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	call := &txCall{ctx: ctx, fn: fn, done: make(chan struct{})}
	c := &db.commit
	c.mu.Lock()
	c.queue = append(c.queue, call)
	if c.leading {
		c.mu.Unlock()
		<-call.done
		if !call.lead {
			return call.err
		}
	} else {
		c.leading = true
		c.mu.Unlock()
	}
	// This caller leads. It is first in the queue (the queue was empty
	// when it took the lead, or the last leader handed the lead to the
	// queue's head), so the batch it runs holds its own transaction.
	c.mu.Lock()
	n := min(len(c.queue), maxBatch)
	batch := c.queue[:n:n]
	c.queue = c.queue[n:]
	c.mu.Unlock()
	db.runBatch(batch)
	c.mu.Lock()
	c.commits++
	var next *txCall
	if len(c.queue) == 0 {
		c.leading = false
		c.queue = nil
	} else {
		next = c.queue[0]
		next.lead = true
	}
	c.mu.Unlock()
	for _, b := range batch[1:] {
		close(b.done)
	}
	if next != nil {
		close(next.done)
	}
	return call.err
}

// runBatch runs the calls of one batch in one write transaction and sets
// each call's err. A batch of one runs without a savepoint.
func (db *DB) runBatch(batch []*txCall) {
	live := make([]*txCall, 0, len(batch))
	for _, call := range batch {
		if err := call.ctx.Err(); err != nil {
			call.err = fmt.Errorf("sqlite: write transaction: %w", err)
			continue
		}
		live = append(live, call)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.Background()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		setErr(live, unavailable(err))
		return
	}
	if len(live) == 1 {
		call := live[0]
		if call.err = call.fn(context.WithoutCancel(call.ctx), tx); call.err != nil {
			tx.Rollback()
			call.err = unavailable(call.err)
			return
		}
		call.err = unavailable(tx.Commit())
		db.writeStmts.prepareWanted(ctx) // the connection is free again
		return
	}
	for _, call := range live {
		if _, err := db.txExec(ctx, tx, `SAVEPOINT batch_call`); err != nil {
			tx.Rollback()
			setErr(live, unavailable(err))
			return
		}
		call.err = call.fn(context.WithoutCancel(call.ctx), tx)
		if call.err != nil {
			call.err = unavailable(call.err)
			// Undo this call's statements only. When SQLite has rolled
			// the whole transaction back already (a full disk, an I/O
			// error), the savepoint is gone and so is the batch.
			if _, err := db.txExec(ctx, tx, `ROLLBACK TO batch_call`); err != nil {
				tx.Rollback()
				setErr(live, unavailable(fmt.Errorf("sqlite: batch rolled back: %w", err)))
				return
			}
		}
		if _, err := db.txExec(ctx, tx, `RELEASE batch_call`); err != nil {
			tx.Rollback()
			setErr(live, unavailable(err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		for _, call := range live {
			if call.err == nil {
				call.err = unavailable(err)
			}
		}
	}
	db.writeStmts.prepareWanted(ctx)
}

// setErr gives every call of a failed batch the batch's error, except the
// calls that failed on their own already.
func setErr(calls []*txCall, err error) {
	for _, call := range calls {
		if call.err == nil {
			call.err = err
		}
	}
}
