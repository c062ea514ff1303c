package ovn

import (
	"fmt"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

// OptionUseCtInvMatch is NB_Global's option that, set to "false", keeps
// ovn-northd from dropping the packets conntrack finds invalid.
const OptionUseCtInvMatch = "use_ct_inv_match"

// GlobalOptionsOps returns the ops that give NB_Global's options each key
// of want, creating the row when missing; other keys are left alone.
func (c *Client) GlobalOptionsOps(want map[string]string) ([]ovsdb.Operation, error) {
	ops, err := c.mergeGlobalOps(func(g *nbdb.NBGlobal) *map[string]string { return &g.Options }, want)
	if err != nil {
		return nil, fmt.Errorf("NB_Global options: %w", err)
	}
	return ops, nil
}
