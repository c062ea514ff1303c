package harness

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// Schemas of the installed OVN: the server must serve the schema that the
// installed ovn-northd and ovn-controller expect.
const (
	northboundSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	southboundSchema = "/usr/share/ovn/ovn-sb.ovsschema"
)

// OVSDB is an ovsdb-server serving one fresh database over a unix socket.
type OVSDB struct {
	// Endpoint is the libovsdb / ovn-nbctl --db address, "unix:<Socket>".
	Endpoint string
	// Socket is the path of the unix socket clients connect to.
	Socket string
	// Control is the unixctl socket, for ovs-appctl -t <Control>.
	Control string
	// LogFile is where ovsdb-server logs.
	LogFile string
	// PID is the server's process id; it is gone once the test's cleanups ran.
	PID int
}

// StartNorthbound starts an ovsdb-server with an empty OVN_Northbound
// database, stopped by tb.Cleanup.
func StartNorthbound(tb testing.TB) *OVSDB {
	tb.Helper()
	return startOVSDB(tb, "ovnnb_db", northboundSchema)
}

// StartSouthbound starts an ovsdb-server with an empty OVN_Southbound
// database, stopped by tb.Cleanup.
func StartSouthbound(tb testing.TB) *OVSDB {
	tb.Helper()
	return startOVSDB(tb, "ovnsb_db", southboundSchema)
}

// startOVSDB creates <name>.db from schema and serves it; name also names
// the socket, control socket and log, as OVN's own scripts do.
func startOVSDB(tb testing.TB, name, schema string) *OVSDB {
	tb.Helper()
	dir := socketDir(tb)
	db := filepath.Join(dir, name+".db")
	tool := lookPath(tb, "ovsdb-tool")
	if out, err := exec.Command(tool, "create", db, schema).CombinedOutput(); err != nil {
		tb.Fatalf("ovsdb-tool create %s %s: %v: %s", db, schema, err, out)
	}
	o := &OVSDB{
		Socket:  filepath.Join(dir, name+".sock"),
		Control: filepath.Join(dir, name+".ctl"),
		LogFile: filepath.Join(dir, name+".log"),
	}
	o.Endpoint = "unix:" + o.Socket
	d := startDaemon(tb, daemonSpec{
		argv: []string{"ovsdb-server", db,
			"--remote=punix:" + o.Socket,
			"--unixctl=" + o.Control,
			"--log-file=" + o.LogFile,
			"-vconsole:off", "--no-chdir"},
		logFile:    o.LogFile,
		stderrFile: filepath.Join(dir, name+".stderr"),
	})
	d.waitForSocket(tb, o.Socket)
	o.PID = d.pid()
	return o
}
