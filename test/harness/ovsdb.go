package harness

import "github.com/ovnet/ovnet/test/harness/ovsdbserver"

// OVSDB is an ovsdb-server serving one fresh database over a unix socket.
type OVSDB = ovsdbserver.Server

// StartNorthbound starts an ovsdb-server with an empty OVN_Northbound
// database, stopped by tb.Cleanup.
func StartNorthbound(tb T) *OVSDB {
	tb.Helper()
	return startOVSDB(tb, "ovnnb_db", ovsdbserver.NorthboundSchema)
}

// StartSouthbound starts an ovsdb-server with an empty OVN_Southbound
// database, stopped by tb.Cleanup.
func StartSouthbound(tb T) *OVSDB {
	tb.Helper()
	return startOVSDB(tb, "ovnsb_db", ovsdbserver.SouthboundSchema)
}

// startOVSDB creates <name>.db from schema and serves it from the
// directory the harness keeps its other daemons' sockets and logs in.
func startOVSDB(tb T, name, schema string) *OVSDB {
	tb.Helper()
	return ovsdbserver.Start(tb, ovsdbserver.Options{Schema: schema, Name: name, Dir: socketDir(tb)})
}
