package controller

import (
	"context"
	"errors"
	"sync"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// maxPortWritesPerTransaction bounds how many reconciles' port writes
// share one transaction: a burst of pods (16 workers) fills a few, and a
// refused one, retried write by write, stays short.
const maxPortWritesPerTransaction = 64

// errCommitAlone tells a write its transaction was refused for the sake of
// another's operations: nothing of it was committed, and it is committed
// again on its own.
var errCommitAlone = errors.New("port write refused with others; retried alone")

// portWrites commits the port writes of concurrent reconciles (a pod's or
// a node's port created or removed) together, as one NB transaction: a
// group commit. Each transaction costs ovsdb-server a commit, a log record
// and an update to every monitoring client, and the controller a round
// trip and an update to decode, whatever its size; a burst of pods shares
// them. No write waits for company: the first goes at once, and those
// arriving while a transaction is in flight go together in the next.
type portWrites struct {
	// transact commits one transaction (Network.transact).
	transact func(context.Context, []ovsdb.Operation) error

	mu sync.Mutex
	// queue holds the writes waiting for the next transaction.
	queue []*portWrite
	// committing says a goroutine is draining queue.
	committing bool
}

// portWrite is one reconcile's operations and where their fate is told.
type portWrite struct {
	ops []ovsdb.Operation
	// done is buffered, so the committer never waits for a writer gone.
	done chan error
}

func newPortWrites(transact func(context.Context, []ovsdb.Operation) error) *portWrites {
	return &portWrites{transact: transact}
}

// commit commits ops, with those of other reconciles writing meanwhile,
// and returns their transaction's error. A writer whose ctx ends stops
// waiting; its ops may still be committed, as a transaction abandoned
// would, and its retry converges from the cache either way.
func (w *portWrites) commit(ctx context.Context, ops []ovsdb.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	write := &portWrite{ops: ops, done: make(chan error, 1)}
	w.mu.Lock()
	w.queue = append(w.queue, write)
	start := !w.committing
	w.committing = true
	w.mu.Unlock()
	if start {
		go w.drain()
	}
	select {
	case err := <-write.done:
		if errors.Is(err, errCommitAlone) {
			return w.transact(ctx, ops)
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain commits the queue, a transaction at a time, until it is empty.
func (w *portWrites) drain() {
	for batch := w.next(); batch != nil; batch = w.next() {
		w.commitBatch(batch)
	}
}

// next takes the writes of the next transaction off the queue; nil, and
// the draining over, when there are none.
func (w *portWrites) next() []*portWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.queue), maxPortWritesPerTransaction)
	if n == 0 {
		w.committing = false
		w.queue = nil
		return nil
	}
	batch := w.queue[:n:n]
	w.queue = w.queue[n:]
	return batch
}

// commitBatch commits the writes of batch as one transaction. The writes
// are independent (each reconcile's own rows), so only a refusal needs
// telling apart: OVSDB then committed nothing, and each write is retried
// alone so that it gets its own answer. Any other failure (NB lost, no
// answer, a row gone after the commit) leaves what was committed unknown
// or partial; every writer gets the error and retries from the cache, as
// after a transaction of its own.
func (w *portWrites) commitBatch(batch []*portWrite) {
	ops := batch[0].ops
	if len(batch) > 1 {
		ops = nil
		for _, write := range batch {
			ops = append(ops, write.ops...)
		}
	}
	// No writer's context: the transaction is theirs together, and it
	// ends when NB is lost or by the client's own timeout.
	err := w.transact(context.Background(), ops)
	if err != nil && len(batch) > 1 && errors.Is(err, ovsdbtxn.ErrRefused) {
		err = errCommitAlone
	}
	for _, write := range batch {
		write.done <- err
	}
}
