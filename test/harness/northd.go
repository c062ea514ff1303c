package harness

import (
	"path/filepath"
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
	dir := socketDir(tb)
	n := &Northd{
		Control: filepath.Join(dir, "ovn-northd.ctl"),
		LogFile: filepath.Join(dir, "ovn-northd.log"),
	}
	d := startDaemon(tb, daemonSpec{
		argv: []string{"ovn-northd",
			"--ovnnb-db=" + nb.Remote(),
			"--ovnsb-db=" + sb.Remote(),
			"--unixctl=" + n.Control,
			"--log-file=" + n.LogFile,
			"-vconsole:off", "--no-chdir"},
		logFile:    n.LogFile,
		stderrFile: filepath.Join(dir, "ovn-northd.stderr"),
	})
	d.waitForSocket(tb, n.Control)
	n.PID = d.pid()
	return n
}
