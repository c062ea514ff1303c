// Package ovsdbtxn is ovnet's one layer over libovsdb, shared by the
// northbound (pkg/ovn) and Open_vSwitch (pkg/ovs) clients: connecting with
// reconnect and backoff, committing transactions whose results the cache
// shows before the call returns, timing them, reading rows from the cache
// by index, and building the operations that make a row as wanted.
package ovsdbtxn
