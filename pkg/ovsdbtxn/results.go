package ovsdbtxn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ovn-org/libovsdb/ovsdb"
)

// ErrRefused is a transaction the server refused: one of its operations
// failed, or its commit did, and OVSDB then commits none of it.
var ErrRefused = errors.New("transaction refused")

// CheckResults turns failed operations into one error naming each failure,
// with the operation's index, kind and table, so a refused transaction says
// which of its operations the server refused and why.
func CheckResults(results []ovsdb.OperationResult, ops []ovsdb.Operation) error {
	opErrs, err := ovsdb.CheckOperationResults(results, ops)
	if err == nil {
		return unmatched(results, ops)
	}
	if len(results) >= len(ops) {
		// A result per operation (and one more for a failed commit): the
		// server answered and aborted the whole transaction.
		err = fmt.Errorf("%w: %w", ErrRefused, err)
	}
	var details []string
	for _, e := range opErrs {
		details = append(details, e.Error())
	}
	for i, r := range results {
		if r.Error != "" && i < len(ops) {
			details = append(details, fmt.Sprintf("op %d (%s %s): %s: %s", i, ops[i].Op, ops[i].Table, r.Error, r.Details))
		}
	}
	return fmt.Errorf("%w: %s", err, strings.Join(details, "; "))
}

// ErrRowGone is an update or mutation that matched no row: the row it was
// built from, read from the cache, had been deleted in the database (by
// another client, or a database lost and recreated). The server commits
// such a transaction as if it did its work, so without this check the
// write vanishes silently; as an error, the caller retries once its cache
// has caught up, and writes what is really missing.
var ErrRowGone = errors.New("matched no row")

// unmatched reports the update and mutate operations that changed nothing
// because their row was gone. Every such operation ovnet builds targets
// rows it just read from its cache.
func unmatched(results []ovsdb.OperationResult, ops []ovsdb.Operation) error {
	var gone []string
	for i, op := range ops {
		if i < len(results) && (op.Op == ovsdb.OperationUpdate || op.Op == ovsdb.OperationMutate) && results[i].Count == 0 {
			gone = append(gone, fmt.Sprintf("op %d (%s %s where %v)", i, op.Op, op.Table, op.Where))
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrRowGone, strings.Join(gone, "; "))
}
