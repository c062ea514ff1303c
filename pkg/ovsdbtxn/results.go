package ovsdbtxn

import (
	"fmt"
	"strings"

	"github.com/ovn-org/libovsdb/ovsdb"
)

// CheckResults turns failed operations into one error naming each failure,
// with the operation's index, kind and table, so a refused transaction says
// which of its operations the server refused and why.
func CheckResults(results []ovsdb.OperationResult, ops []ovsdb.Operation) error {
	opErrs, err := ovsdb.CheckOperationResults(results, ops)
	if err == nil {
		return nil
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
