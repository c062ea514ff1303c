package ovsdbtxn

import (
	"context"
	"time"

	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/ovsdb"
)

const (
	// cacheWaitTimeout bounds the wait for a committed transaction to reach
	// the cache; it arrives within milliseconds, unless another writer
	// undid it meanwhile or OVSDB dropped an inserted row nothing referenced.
	cacheWaitTimeout = 5 * time.Second
	// recheckInterval re-reads the cache while waiting, in case a change
	// notification was lost (libovsdb drops events when its buffer is full).
	recheckInterval = 100 * time.Millisecond
)

// Wait returns once done reports true or an error, re-evaluating it on
// every change of the cache, or ctx's error when ctx ends first.
func (c *Client) Wait(ctx context.Context, done func() (bool, error)) error {
	recheck := time.NewTicker(recheckInterval)
	defer recheck.Stop()
	for {
		changed := c.changes.Next()
		if ok, err := done(); ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-recheck.C:
		}
	}
}

// awaitResults waits until the cache shows what the committed ops did.
// The server's update reaches the cache independently of the transaction's
// reply; without this wait the caller's next read could miss its own write
// and build the same operations again. A timeout is no error: the commit
// succeeded, and the next read converges from whatever the cache holds.
func (c *Client) awaitResults(ctx context.Context, ops []ovsdb.Operation, results []ovsdb.OperationResult) {
	named := realUUIDs(ops, results)
	var checks []func() bool
	for i, op := range ops {
		if i >= len(results) {
			break
		}
		if check := c.resultCheck(op, results[i], named); check != nil {
			checks = append(checks, check)
		}
	}
	if len(checks) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, cacheWaitTimeout)
	defer cancel()
	_ = c.Wait(ctx, func() (bool, error) {
		for _, check := range checks {
			if !check() {
				return false, nil
			}
		}
		return true, nil
	})
}

// realUUIDs maps the named UUIDs of the transaction's inserts to the
// UUIDs the server gave the rows.
func realUUIDs(ops []ovsdb.Operation, results []ovsdb.OperationResult) map[string]string {
	named := map[string]string{}
	for i, op := range ops {
		if op.Op == ovsdb.OperationInsert && op.UUIDName != "" && i < len(results) {
			named[op.UUIDName] = results[i].UUID.GoUUID
		}
	}
	return named
}

// resultCheck returns a test of whether the cache shows op's effect, or
// nil when there is nothing the cache could show: the op changed no row,
// or it concerns columns the cache does not mirror.
func (c *Client) resultCheck(op ovsdb.Operation, result ovsdb.OperationResult, named map[string]string) func() bool {
	rows := c.db.Cache().Table(op.Table)
	if rows == nil {
		return nil
	}
	if op.Op == ovsdb.OperationInsert {
		uuid := result.UUID.GoUUID
		return func() bool { return rows.HasRow(uuid) }
	}
	if result.Count == 0 || !c.whereCheckable(op) {
		return nil
	}
	where := make([]ovsdb.Condition, len(op.Where))
	for i, cond := range op.Where {
		cond.Value = resolveNamed(cond.Value, named)
		where[i] = cond
	}
	switch op.Op {
	case ovsdb.OperationDelete:
		return func() bool {
			found, err := rows.RowsByCondition(where)
			return err != nil || len(found) == 0
		}
	case ovsdb.OperationUpdate, ovsdb.OperationMutate:
		want := c.columnTests(op, named)
		if len(want) == 0 {
			return nil
		}
		return func() bool { return rowsShow(rows, where, want) }
	}
	return nil
}

// whereCheckable reports whether the cache can evaluate op's conditions
// after op: every column they name is mirrored, and op does not change it.
func (c *Client) whereCheckable(op ovsdb.Operation) bool {
	changed := map[string]bool{}
	for col := range op.Row {
		changed[col] = true
	}
	for _, m := range op.Mutations {
		changed[m.Column] = true
	}
	for _, cond := range op.Where {
		if changed[cond.Column] || !c.isMirrored(op.Table, cond.Column) {
			return false
		}
	}
	return true
}

// rowsShow reports whether rows matching where exist and each passes every test.
func rowsShow(rows *cache.RowCache, where []ovsdb.Condition, tests []columnTest) bool {
	found, err := rows.RowsByCondition(where)
	if err != nil {
		return true // nothing to wait for that the cache could show
	}
	if len(found) == 0 {
		return false
	}
	for _, row := range found {
		for _, t := range tests {
			if !t.holds(row) {
				return false
			}
		}
	}
	return true
}
