package uninstall

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Files of the handshake with the Open vSwitch container, in a directory
// both mount (the chart's /run/openvswitch).
const (
	// StoppingFile exists while the daemon decides, and cleans, on exit:
	// the Open vSwitch container's preStop then waits for the lock.
	StoppingFile = "ovnet-daemon-stopping"
	// UninstalledFile is left once the daemon cleaned the node: the Open
	// vSwitch container removes its database (and br-phy) as it stops.
	UninstalledFile = "ovnet-uninstalled"
)

// Handshake lets the Open vSwitch container, which stops at the same time
// on uninstall, outlive the daemon's clean-up: the daemon holds a shared
// flock on the directory while it runs, says when it is stopping, and
// whether it cleaned the node. Shared, so an old and a new daemon may
// overlap; `flock DIR` (exclusive) waits for every one.
type Handshake struct {
	dir  string
	lock *os.File
}

// OpenHandshake takes the lock on dir and removes a stopping mark a
// killed daemon left; an empty dir makes a handshake that does nothing.
func OpenHandshake(dir string) (*Handshake, error) {
	h := &Handshake{dir: dir}
	if dir == "" {
		return h, nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("handshake directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	h.lock = f
	return h, removeFile(filepath.Join(dir, StoppingFile))
}

// Stopping says the daemon is deciding whether to clean the node.
func (h *Handshake) Stopping() error {
	if h.dir == "" {
		return nil
	}
	return os.WriteFile(filepath.Join(h.dir, StoppingFile), nil, 0o644)
}

// Done says the daemon is about to exit, having cleaned the node or not.
func (h *Handshake) Done(cleaned bool) error {
	if h.dir == "" {
		return nil
	}
	var err error
	if cleaned {
		err = os.WriteFile(filepath.Join(h.dir, UninstalledFile), nil, 0o644)
	}
	return errors.Join(err, removeFile(filepath.Join(h.dir, StoppingFile)))
}

// Close releases the lock: the Open vSwitch container's preStop returns.
func (h *Handshake) Close() {
	if h.lock != nil {
		h.lock.Close()
	}
}
