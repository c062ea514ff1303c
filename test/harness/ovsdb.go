package harness

import "github.com/ovnet/ovnet/test/harness/ovsdbserver"

// OVSDB is an ovsdb-server serving one fresh database over a unix socket.
type OVSDB = ovsdbserver.Server

// OVSDBCluster is a Raft cluster of ovsdb-servers, one process per member.
type OVSDBCluster = ovsdbserver.Cluster

// OVSDBMember is one server of an OVSDBCluster.
type OVSDBMember = ovsdbserver.Member

// Database is an OVSDB database as its clients see it: one server or the
// members of a Raft cluster, reached at Remote(), one endpoint or a
// comma-separated list (ovn-northd's --ovnnb-db, ovnet-controller's
// --nb-address).
type Database interface {
	Remote() string
}

// TLSDatabase is a Database listening on pssl: too: SSLRemote is its
// ssl: endpoint or, for a Raft cluster, every member's; empty when it was
// started without TLS.
type TLSDatabase interface {
	SSLRemote() string
}

// raftMembers is the size of the clusters the harness starts: the
// smallest that survives the loss of one member.
const raftMembers = 3

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

// StartNorthboundCluster starts a 3-member Raft cluster serving an empty
// OVN_Northbound database on 127.0.0.1, stopped by tb.Cleanup.
func StartNorthboundCluster(tb T) *OVSDBCluster {
	tb.Helper()
	return startCluster(tb, "ovnnb_db", ovsdbserver.NorthboundSchema)
}

// StartSouthboundCluster starts a 3-member Raft cluster serving an empty
// OVN_Southbound database on 127.0.0.1, stopped by tb.Cleanup.
func StartSouthboundCluster(tb T) *OVSDBCluster {
	tb.Helper()
	return startCluster(tb, "ovnsb_db", ovsdbserver.SouthboundSchema)
}

// startOVSDB creates <name>.db from schema and serves it from the
// directory the harness keeps its other daemons' sockets and logs in.
func startOVSDB(tb T, name, schema string) *OVSDB {
	tb.Helper()
	return ovsdbserver.Start(tb, ovsdbserver.Options{Schema: schema, Name: name, Dir: socketDir(tb)})
}

// startCluster is startOVSDB for a Raft cluster: <name>-<i>.db per member.
func startCluster(tb T, name, schema string) *OVSDBCluster {
	tb.Helper()
	return ovsdbserver.StartCluster(tb, ovsdbserver.ClusterOptions{Schema: schema, Name: name,
		Members: raftMembers, Dir: socketDir(tb)})
}
