package ovsdbtxn

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ovn-org/libovsdb/ovsdb"
)

func TestCheckResults(t *testing.T) {
	ops := []ovsdb.Operation{
		{Op: ovsdb.OperationWait, Table: "Logical_Switch"},
		{Op: ovsdb.OperationInsert, Table: "Logical_Switch"},
		{Op: ovsdb.OperationMutate, Table: "Port_Group"},
		{Op: ovsdb.OperationUpdate, Table: "Logical_Router"},
	}
	ok := []ovsdb.OperationResult{{}, {UUID: ovsdb.UUID{GoUUID: "u"}}, {Count: 1}, {Count: 1}}
	tests := []struct {
		name    string
		results []ovsdb.OperationResult
		wantErr bool
		// refused: the server aborted the transaction, none of it committed.
		refused  bool
		mentions []string
	}{
		{"all succeeded", ok, false, false, nil},
		{"wait timed out", []ovsdb.OperationResult{{Error: "timed out", Details: `"where" clause test failed`}, {}, {}, {}}, true, true,
			[]string{"op 0 (wait Logical_Switch)", "timed out", "where"}},
		{"commit failed", append(slices.Clone(ok), ovsdb.OperationResult{Error: "referential integrity violation"}), true, true,
			[]string{"referential integrity violation"}},
		// Not an answer the server gives: nothing is known of the commit.
		{"fewer results than ops", []ovsdb.OperationResult{{}}, true, false, []string{"4 operations"}},
		// The server commits these; the write did nothing.
		{"mutation of a row gone", []ovsdb.OperationResult{{}, {UUID: ovsdb.UUID{GoUUID: "u"}}, {Count: 0}, {Count: 1}}, true, false,
			[]string{"matched no row", "op 2 (mutate Port_Group"}},
		{"update of a row gone", []ovsdb.OperationResult{{}, {UUID: ovsdb.UUID{GoUUID: "u"}}, {Count: 1}, {Count: 0}}, true, false,
			[]string{"matched no row", "op 3 (update Logical_Router"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckResults(tt.results, ops)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrRefused); got != tt.refused {
				t.Errorf("err = %v: refused %v, want %v", err, got, tt.refused)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}
