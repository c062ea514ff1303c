// Package ovsdbserver starts ovsdb-server for tests and test tools: a
// fresh database created from a schema file, served on a unix socket in a
// short temporary directory, stopped and removed at cleanup. It imports
// nothing of ovnet, so any package's tests can use it.
package ovsdbserver
