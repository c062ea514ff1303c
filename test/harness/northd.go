package harness

import (
	"path/filepath"

	"github.com/ovnet/ovnet/pkg/ovntls"
)

// Northd is an ovn-northd translating one northbound database into one
// southbound database.
type Northd struct {
	// Control is the unixctl socket, for ovn-appctl -t <Control>.
	Control string
	// LogFile is where ovn-northd logs.
	LogFile string
	// PID is the process id; it is gone once the test's cleanups ran.
	PID int
}

// StartNorthd starts ovn-northd against nb and sb (a cluster's every
// member: northd follows its leader), stopped by tb.Cleanup
// before them (cleanups run last-registered first), so it never logs
// reconnect noise about servers that went away under it.
func StartNorthd(tb T, nb, sb Database) *Northd {
	tb.Helper()
	return startNorthd(tb, nb.Remote(), sb.Remote())
}

// StartNorthdTLS starts ovn-northd connecting to the databases' ssl:
// endpoints (a cluster's every member) with files (-p, -c, -C), stopped
// like StartNorthd's.
func StartNorthdTLS(tb T, nb, sb TLSDatabase, files ovntls.Files) *Northd {
	tb.Helper()
	if nb.SSLRemote() == "" || sb.SSLRemote() == "" {
		tb.Fatalf("StartNorthdTLS: the databases have no ssl: endpoint (start them with StartNorthboundTLS, StartSouthboundTLS or their Cluster forms)")
	}
	return startNorthd(tb, nb.SSLRemote(), sb.SSLRemote(),
		"--private-key="+files.PrivateKey, "--certificate="+files.Certificate, "--ca-cert="+files.CACert)
}

func startNorthd(tb T, nbRemote, sbRemote string, extra ...string) *Northd {
	tb.Helper()
	dir := socketDir(tb)
	n := &Northd{
		Control: filepath.Join(dir, "ovn-northd.ctl"),
		LogFile: filepath.Join(dir, "ovn-northd.log"),
	}
	d := startDaemon(tb, daemonSpec{
		argv: append([]string{"ovn-northd",
			"--ovnnb-db=" + nbRemote,
			"--ovnsb-db=" + sbRemote,
			"--unixctl=" + n.Control,
			"--log-file=" + n.LogFile,
			"-vconsole:off", "--no-chdir"}, extra...),
		logFile:    n.LogFile,
		stderrFile: filepath.Join(dir, "ovn-northd.stderr"),
	})
	d.waitForSocket(tb, n.Control)
	n.PID = d.pid()
	return n
}
