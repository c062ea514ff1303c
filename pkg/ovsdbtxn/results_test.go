package ovsdbtxn

import (
	"strings"
	"testing"

	"github.com/ovn-org/libovsdb/ovsdb"
)

func TestCheckResults(t *testing.T) {
	ops := []ovsdb.Operation{
		{Op: ovsdb.OperationWait, Table: "Logical_Switch"},
		{Op: ovsdb.OperationInsert, Table: "Logical_Switch"},
	}
	tests := []struct {
		name     string
		results  []ovsdb.OperationResult
		wantErr  bool
		mentions []string
	}{
		{"all succeeded", []ovsdb.OperationResult{{}, {UUID: ovsdb.UUID{GoUUID: "u"}}}, false, nil},
		{"wait timed out", []ovsdb.OperationResult{{Error: "timed out", Details: `"where" clause test failed`}, {}}, true,
			[]string{"op 0 (wait Logical_Switch)", "timed out", "where"}},
		{"fewer results than ops", []ovsdb.OperationResult{{}}, true, []string{"2 operations"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckResults(tt.results, ops)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}
