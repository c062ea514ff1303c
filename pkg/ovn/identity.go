package ovn

import (
	"context"
	"fmt"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/pkg/ovsdbtxn"
)

// ExternalIDDatabase is the key of NB_Global's external_ids under which
// ovnet keeps the identity it gave the database. A database that lacks it,
// or holds another, is not the one ovnet's rows were written to: it was
// deleted and recreated empty, or replaced.
const ExternalIDDatabase = "ovnet.io/database-id"

// DatabaseState is what tells the database ovnet wrote to from another.
type DatabaseState struct {
	// ID is the identity in NB_Global; empty when the row or the key is missing.
	ID string
	// Router says the cluster router exists.
	Router bool
}

// CachedState reads the state from the cache: cheap enough to check every
// second, but only a hint, as a reconnect empties the cache for a moment.
func (c *Client) CachedState(router string) (DatabaseState, error) {
	globals, err := ovsdbtxn.List[nbdb.NBGlobal](c.db, nil)
	if err != nil {
		return DatabaseState{}, err
	}
	lr, err := c.routerByName(router)
	if err != nil {
		return DatabaseState{}, err
	}
	st := DatabaseState{Router: lr != nil}
	if len(globals) > 0 {
		st.ID = globals[0].ExternalIDs[ExternalIDDatabase]
	}
	return st, nil
}

// ServerState reads the state from the server itself.
func (c *Client) ServerState(ctx context.Context, router string) (DatabaseState, error) {
	globals, err := c.db.Select(ctx, nbdb.NBGlobalTable, nil, "external_ids")
	if err != nil {
		return DatabaseState{}, err
	}
	routers, err := c.db.Select(ctx, nbdb.LogicalRouterTable,
		[]ovsdb.Condition{ovsdb.NewCondition("name", ovsdb.ConditionEqual, router)}, "_uuid")
	if err != nil {
		return DatabaseState{}, err
	}
	st := DatabaseState{Router: len(routers) > 0}
	if len(globals) > 0 {
		ids, ok := globals[0]["external_ids"].(ovsdb.OvsMap)
		if !ok {
			return DatabaseState{}, fmt.Errorf("NB_Global external_ids: %T", globals[0]["external_ids"])
		}
		st.ID, _ = ids.GoMap[ExternalIDDatabase].(string)
	}
	return st, nil
}

// DatabaseIDOps returns the ops that record id as the database's
// identity, creating NB_Global when missing (ovn-northd fills in the rest
// of that row); other keys are left alone.
func (c *Client) DatabaseIDOps(id string) ([]ovsdb.Operation, error) {
	ops, err := c.mergeGlobalOps(func(g *nbdb.NBGlobal) *map[string]string { return &g.ExternalIDs },
		map[string]string{ExternalIDDatabase: id})
	if err != nil {
		return nil, fmt.Errorf("record database identity: %w", err)
	}
	return ops, nil
}

// mergeGlobalOps returns the ops that give a map column of NB_Global,
// which column picks, each key of want, creating the row when missing.
func (c *Client) mergeGlobalOps(column func(*nbdb.NBGlobal) *map[string]string, want map[string]string) ([]ovsdb.Operation, error) {
	globals, err := ovsdbtxn.List[nbdb.NBGlobal](c.db, nil)
	if err != nil {
		return nil, err
	}
	if len(globals) == 0 {
		g := &nbdb.NBGlobal{}
		*column(g) = want
		return c.db.DB().Create(g)
	}
	g := &globals[0]
	field := column(g)
	muts := ovsdbtxn.MergeMap(field, *field, want)
	if len(muts) == 0 {
		return nil, nil
	}
	return c.db.DB().Where(g).Mutate(g, muts...)
}

// SwitchExists reports whether the cache holds the logical switch.
func (c *Client) SwitchExists(name string) (bool, error) {
	ls, err := c.switchByName(name)
	return ls != nil, err
}
