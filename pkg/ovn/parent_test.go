package ovn_test

import (
	"errors"
	"testing"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovn"
)

// Switch ports and router ports follow one rule for a missing parent: the
// port is refused unless the parent is declared as created in the same
// transaction, and deleting a port whose parent is gone is no error.
func TestPortsOfAMissingParent(t *testing.T) {
	c, _ := connect(t)
	owner := ovn.Owner{Kind: ovn.KindSubnet, Name: "s1"}
	tests := []struct {
		name    string
		ops     func() ([]ovsdb.Operation, error)
		wantErr error
	}{
		{"switch port", func() ([]ovsdb.Operation, error) {
			return c.SwitchPortOps(ovn.SwitchPort{Switch: "missing", Name: "p", Owner: owner})
		}, ovn.ErrSwitchMissing},
		{"router port", func() ([]ovsdb.Operation, error) {
			return c.RouterPortOps(ovn.RouterPort{Router: "missing", Name: "rp", MAC: "0a:00:00:00:00:01",
				Networks: []string{"10.0.0.1/24"}, Owner: owner})
		}, ovn.ErrRouterMissing},
		{"switch port, switch in the same transaction", func() ([]ovsdb.Operation, error) {
			return c.SwitchPortOps(ovn.SwitchPort{Switch: "missing", Name: "p", Owner: owner, SwitchInTransaction: true})
		}, nil},
		{"router port, router in the same transaction", func() ([]ovsdb.Operation, error) {
			return c.RouterPortOps(ovn.RouterPort{Router: "missing", Name: "rp", MAC: "0a:00:00:00:00:01",
				Networks: []string{"10.0.0.1/24"}, Owner: owner, RouterInTransaction: true})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := tt.ops()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && len(ops) == 0 {
				t.Fatal("no ops for a port whose parent comes in the same transaction")
			}
		})
	}
}

func TestDeletedPortsLeaveWhicheverParentHoldsThem(t *testing.T) {
	c, view := connect(t)
	owner := ovn.Owner{Kind: ovn.KindSubnet, Name: "s1"}
	ops, err := c.RouterOps(ovn.Router{Name: "r", Owner: owner})
	commit(t, c, ops, err)
	ops, err = c.SwitchOps(ovn.Switch{Name: "s1", Owner: owner})
	commit(t, c, ops, err)
	ops, err = c.RouterPortOps(ovn.RouterPort{Router: "r", Name: "rp", MAC: "0a:00:00:00:00:01",
		Networks: []string{"10.0.0.1/24"}, Owner: owner})
	commit(t, c, ops, err)
	ops, err = c.SwitchPortOps(ovn.SwitchPort{Switch: "s1", Name: "p", Owner: owner})
	commit(t, c, ops, err)
	waitFor(t, "both ports", func() bool { return view.RouterPort(t, "rp") != nil && view.SwitchPort(t, "p") != nil })

	tests := []struct {
		name string
		ops  func() ([]ovsdb.Operation, error)
		gone func() bool
	}{
		{"router port, named under another router", func() ([]ovsdb.Operation, error) {
			return c.DeleteRouterPortOps("elsewhere", "rp")
		}, func() bool { return view.RouterPort(t, "rp") == nil }},
		{"switch port", func() ([]ovsdb.Operation, error) {
			return c.DeleteSwitchPortOps("p")
		}, func() bool { return view.SwitchPort(t, "p") == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := tt.ops()
			commit(t, c, ops, err)
			waitFor(t, "port gone", tt.gone)
		})
	}
}
