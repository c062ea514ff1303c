package ovsdbtxn

import (
	"context"
	"fmt"

	"github.com/ovn-org/libovsdb/ovsdb"
)

// Select reads columns of the rows of table that match where from the
// server itself, not from the cache. A reconnect empties the cache for a
// moment before the new snapshot fills it, so a row missing from the
// cache is only proof that the server lacks it once the server says so.
func (c *Client) Select(ctx context.Context, table string, where []ovsdb.Condition, columns ...string) ([]ovsdb.Row, error) {
	if where == nil {
		where = []ovsdb.Condition{} // "where" is required: all rows
	}
	tctx, cancel := context.WithTimeout(ctx, transactTimeout)
	defer cancel()
	results, err := c.db.Transact(tctx, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: table, Where: where, Columns: columns})
	if err == nil && (len(results) != 1 || results[0].Error != "") {
		err = fmt.Errorf("results %+v", results)
	}
	if err != nil {
		return nil, fmt.Errorf("%s select from %s: %w", c.name, table, err)
	}
	return results[0].Rows, nil
}
