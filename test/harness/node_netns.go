package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

const (
	// netnsDir is where "ip netns add" bind-mounts named namespaces.
	netnsDir = "/run/netns"
	// maxNamePrefix keeps UniqueName within 13 bytes, so that "<name>_h" still
	// fits IFNAMSIZ (15 bytes and a NUL).
	maxNamePrefix = 4
	// pidDigits is the width of a Linux PID (at most 4194304) in base 36.
	pidDigits = 5
	// netnsHint is appended when namespaces cannot be made.
	netnsHint = "node tests need root and iproute2 (apt-get install iproute2); run them as root"
)

var nameCounter atomic.Uint64

// UniqueName returns a name for a network namespace or interface that no
// other test of this run nor any concurrently running test binary uses:
// prefix (cut to 4 bytes), this process's PID and a counter, all in base 36.
// It is at most 13 bytes long, so a suffix of two still makes a valid
// interface name.
func UniqueName(prefix string) string {
	if len(prefix) > maxNamePrefix {
		prefix = prefix[:maxNamePrefix]
	}
	// The PID is padded to a fixed width so that PID and counter cannot run
	// into each other ("a"+"b1" against "ab"+"1").
	pid := strconv.FormatInt(int64(os.Getpid()), 36)
	pid = strings.Repeat("0", pidDigits-len(pid)) + pid
	return prefix + pid + strconv.FormatUint(nameCounter.Add(1), 36)
}

// netnsExists reports whether "ip netns" knows a namespace of that name.
func netnsExists(name string) bool {
	_, err := os.Stat(filepath.Join(netnsDir, name))
	return err == nil
}

// addNetNS creates a network namespace with lo up and deletes it in
// tb.Cleanup; it fails if the namespace is already there, since then
// something else owns it.
func addNetNS(tb T, name string) {
	tb.Helper()
	if netnsExists(name) {
		tb.Fatalf("network namespace %s already exists: left over from an earlier run? (ip netns del %s)", name, name)
	}
	if out, err := ipCommand("", "netns", "add", name).CombinedOutput(); err != nil {
		tb.Fatalf("ip netns add %s: %v: %s (%s)", name, err, out, netnsHint)
	}
	tb.Cleanup(func() {
		if out, err := ipCommand("", "netns", "del", name).CombinedOutput(); err != nil {
			tb.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	mustIP(tb, name, "link", "set", "lo", "up")
}

// ipCommand is "ip [-n netns] args...": the host namespace when netns is "".
func ipCommand(netns string, args ...string) *exec.Cmd {
	if netns != "" {
		args = append([]string{"-n", netns}, args...)
	}
	return exec.Command("ip", args...)
}

// mustIP runs "ip [-n netns] args..." and fails the test if it fails.
func mustIP(tb T, netns string, args ...string) {
	tb.Helper()
	cmd := ipCommand(netns, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v: %s", strings.Join(cmd.Args, " "), err, out)
	}
}

// inNetNS prefixes argv with "ip netns exec <netns>" when netns is set.
// ip execs the program in place, so the PID the harness sees is the
// program's own.
func inNetNS(netns string, argv ...string) []string {
	if netns == "" {
		return argv
	}
	return append([]string{"ip", "netns", "exec", netns}, argv...)
}

// linkNames lists the interfaces of a namespace ("" for the host's).
func linkNames(netns string) ([]string, error) {
	cmd := ipCommand(netns, "-o", "link", "show")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, out)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// "7: br-int: <...>" or "9: veth0@if8: <...>".
		fields := strings.SplitN(line, ": ", 3)
		if len(fields) < 2 {
			continue
		}
		name, _, _ := strings.Cut(fields[1], "@")
		names = append(names, name)
	}
	return names, nil
}

// presentLinks returns those of want that exist in the namespace.
func presentLinks(netns string, want ...string) ([]string, error) {
	names, err := linkNames(netns)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, name := range names {
		for _, w := range want {
			if name == w {
				found = append(found, name)
			}
		}
	}
	return found, nil
}

// toolOutput runs an OVS/OVN command-line tool and returns its output,
// with the command line and output in the error.
func toolOutput(argv ...string) (string, error) {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// mustTool is toolOutput that fails the test on error.
func mustTool(tb T, argv ...string) string {
	tb.Helper()
	out, err := toolOutput(argv...)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return out
}
