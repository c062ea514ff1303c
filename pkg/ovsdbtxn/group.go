package ovsdbtxn

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/ovn-org/libovsdb/ovsdb"
)

// groupInFlight is how many transactions are in flight before the next
// ones queue. One: a Raft cluster's leader commits a transaction only once
// a majority has logged it, so a thousand small transactions from 16
// writers took four times as long as the same sent in groups, and against
// one server neither way was faster (test/perf/README.md, "Grouped
// transactions"); more in flight only made the groups smaller.
const groupInFlight = 1

// maxGroupOps caps the operations one grouped transaction carries, so a
// burst (a restart's thousands of ports) is sent as several transactions
// of a size ovsdb-server commits in milliseconds, not as one that holds
// it for a second.
const maxGroupOps = 2048

// group commits the transactions made while groupInFlight are in flight
// together, as one transaction, once one returns. Each is still its
// caller's: it gets the results of its own operations, and a grouped
// transaction the server refuses is sent again as its parts, so that only
// the part at fault fails. A transaction made while fewer are in flight
// is sent at once.
type group struct {
	// send commits ops as one transaction.
	send func(context.Context, []ovsdb.Operation) ([]ovsdb.OperationResult, error)
	// fits reports whether ops fit the schema; libovsdb refuses the whole
	// transaction, unsent, when one does not.
	fits func([]ovsdb.Operation) bool
	// limit is how many transactions are in flight before the next ones
	// queue: groupInFlight, or no limit for a client that groups nothing.
	limit int
	mu    sync.Mutex
	// inFlight counts the transactions sent and not answered yet.
	inFlight int
	// queue are the transactions waiting for one of those.
	queue []*groupMember
}

// groupMember is one caller's transaction.
type groupMember struct {
	ctx context.Context
	ops []ovsdb.Operation
	// done receives the outcome; buffered, as the caller may have left.
	done chan groupOutcome
}

type groupOutcome struct {
	results []ovsdb.OperationResult
	err     error
}

// commit commits ops, alone or with others made meanwhile, and returns
// the results of ops.
func (g *group) commit(ctx context.Context, ops []ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	m := &groupMember{ctx: ctx, ops: ops, done: make(chan groupOutcome, 1)}
	g.mu.Lock()
	if g.inFlight >= g.limit {
		g.queue = append(g.queue, m)
		g.mu.Unlock()
	} else {
		g.inFlight++
		g.mu.Unlock()
		g.run([]*groupMember{m})
	}
	select {
	case o := <-m.done:
		return o.results, o.err
	case <-ctx.Done():
		// As when a lone transaction's context ends: it may still commit.
		return nil, ctx.Err()
	}
}

// run sends batch, then hands its place in flight, with the transactions
// queued meanwhile, to a goroutine of their own, so the caller that sent
// batch is not held by the others' writes.
func (g *group) run(batch []*groupMember) {
	g.sendBatch(batch)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.inFlight--
		return
	}
	next := g.take()
	go g.drain(next)
}

// drain sends batches until the queue is empty.
func (g *group) drain(batch []*groupMember) {
	for {
		g.sendBatch(batch)
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.inFlight--
			g.mu.Unlock()
			return
		}
		batch = g.take()
		g.mu.Unlock()
	}
}

// take removes the next batch from the queue: as many members as fit in
// maxGroupOps, and at least one. Called with g.mu held.
func (g *group) take() []*groupMember {
	n, ops := 0, 0
	for n < len(g.queue) && (n == 0 || ops+len(g.queue[n].ops) <= maxGroupOps) {
		ops += len(g.queue[n].ops)
		n++
	}
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	return batch
}

// sendBatch commits the members' operations in one transaction and gives
// each member its results. A member whose context has ended is left out,
// and so is one whose operations do not fit the schema.
func (g *group) sendBatch(batch []*groupMember) {
	if len(batch) == 1 {
		g.sendAlone(batch[0])
		return
	}
	live := batch[:0:0]
	var all []ovsdb.Operation
	for _, m := range batch {
		switch {
		case m.ctx.Err() != nil:
			m.done <- groupOutcome{err: m.ctx.Err()}
		case !g.fits(m.ops):
			g.sendAlone(m) // for libovsdb's own error
		default:
			live = append(live, m)
			all = append(all, m.ops...)
		}
	}
	if len(live) <= 1 {
		for _, m := range live {
			g.sendAlone(m)
		}
		return
	}
	ctx, cancel := whileAnyWaits(live)
	results, err := g.send(ctx, all)
	cancel()
	if err == nil && refused(results, all) {
		// Rolled back as a whole: each part again, alone, so that the
		// error is only the part's that caused it.
		for _, m := range live {
			g.sendAlone(m)
		}
		return
	}
	// An error without the server's answer (the connection lost, the
	// time up) is every member's: the transaction may have committed, so
	// none is sent again; each caller reads the cache and retries, as it
	// would after a transaction of its own.
	off := 0
	for _, m := range live {
		o := groupOutcome{err: err}
		if err == nil {
			o.results = results[off : off+len(m.ops) : off+len(m.ops)]
		}
		off += len(m.ops)
		m.done <- o
	}
}

// whileAnyWaits is the context of a grouped transaction: one member's end
// must not cut the others' transaction short, but once none waits for it
// (their workers stopping, NB found lost) it ends as theirs would have.
func whileAnyWaits(members []*groupMember) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	var waiting atomic.Int64
	waiting.Store(int64(len(members)))
	stops := make([]func() bool, len(members))
	for i, m := range members {
		stops[i] = context.AfterFunc(m.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// sendAlone commits one member's operations as a transaction of their own.
func (g *group) sendAlone(m *groupMember) {
	results, err := g.send(m.ctx, m.ops)
	m.done <- groupOutcome{results: results, err: err}
}

// refused reports whether the server aborted the transaction: an error
// in any operation's result, or in the commit's (a result past the last
// operation's).
func refused(results []ovsdb.OperationResult, ops []ovsdb.Operation) bool {
	if len(results) != len(ops) {
		return true
	}
	for _, r := range results {
		if r.Error != "" {
			return true
		}
	}
	return false
}
