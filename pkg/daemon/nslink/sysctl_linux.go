package nslink

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The forwarding switches of each family: on, the namespace routes
// between its links (the uplink and ovn0).
const (
	IPv4Forwarding = "net.ipv4.ip_forward"
	IPv6Forwarding = "net.ipv6.conf.all.forwarding"
)

// EnsureSysctl sets key (dotted, as sysctl names it) to value in the
// namespace, writing only when it differs, and reports whether it wrote.
// It is read and written from a thread inside the namespace: /proc/sys/net
// shows the namespace of whoever opens it.
func (n *Namespace) EnsureSysctl(key, value string) (changed bool, err error) {
	path := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	err = n.Run(func() error {
		have, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if string(bytes.TrimSpace(have)) == value {
			return nil
		}
		changed = true
		return os.WriteFile(path, []byte(value+"\n"), 0o644)
	})
	if err != nil {
		return false, fmt.Errorf("%s=%s: %w", key, value, err)
	}
	return changed, nil
}
