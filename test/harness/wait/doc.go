// Package wait polls a condition until it holds or a deadline passes: the one
// way the suites, the harness and programs built on it wait for state they are
// not notified of. It imports nothing of ovnet, so any package may use it.
package wait
