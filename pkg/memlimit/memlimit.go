package memlimit

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
)

// share is the part of the cgroup's limit given to the Go runtime. The
// rest is what the cgroup charges and the runtime does not count: the
// binary's pages, the kernel's buffers of the process's sockets.
//
// Without a limit the collector lets the heap grow to twice what is live
// at the last collection; a controller's restart decodes the whole NB
// snapshot and the first pod list, garbage that briefly needs more than
// the controller keeps (1.25 GiB more at 20,000 pods, test/perf), and a
// container limit sized for the steady state would see it killed at every
// restart.
const share = 0.9

// unlimitedV1 is the smallest value cgroup v1 reports for "no limit" (the
// largest page-aligned int64).
const unlimitedV1 = 1 << 62

// Cgroup locates the cgroup files of a process.
type Cgroup struct {
	// Root is where the cgroup filesystems are mounted: /sys/fs/cgroup.
	Root string
	// Self is the process's cgroup membership: /proc/self/cgroup.
	Self string
}

// Host is the running process's cgroup.
var Host = Cgroup{Root: "/sys/fs/cgroup", Self: "/proc/self/cgroup"}

// Limit returns the smallest memory limit of the process's cgroup and its
// ancestors, cgroup v2 or v1, and false when none is set.
func (c Cgroup) Limit() (int64, bool, error) {
	v2, v1, err := c.Paths()
	if err != nil {
		return 0, false, err
	}
	if v2 != "" {
		if limit, ok, err := smallest(c.Root, v2, "memory.max"); err != nil || ok {
			return limit, ok, err
		}
	}
	if v1 != "" {
		return smallest(filepath.Join(c.Root, "memory"), v1, "memory.limit_in_bytes")
	}
	return 0, false, nil
}

// Paths reads the process's cgroup v2 path ("0::/a/b") and its v1 memory
// controller's ("4:memory:/a/b") from Self; either is empty when the
// process has none.
func (c Cgroup) Paths() (v2, v1 string, err error) {
	membership, err := os.ReadFile(c.Self)
	if err != nil {
		return "", "", fmt.Errorf("cgroup membership: %w", err)
	}
	scanner := bufio.NewScanner(strings.NewReader(string(membership)))
	for scanner.Scan() {
		fields := strings.SplitN(scanner.Text(), ":", 3)
		if len(fields) != 3 {
			continue
		}
		switch {
		case fields[0] == "0" && fields[1] == "":
			v2 = fields[2]
		case strings.Contains(","+fields[1]+",", ",memory,"):
			v1 = fields[2]
		}
	}
	return v2, v1, nil
}

// smallest reads file in the group's directory and each ancestor's up to
// mount and returns the smallest limit set. A group path that is not under
// mount (a container that sees the host's path but has its own group
// mounted at the root) is read at the mount alone.
func smallest(mount, group, file string) (int64, bool, error) {
	var limit int64
	found := false
	dir := path.Clean("/" + group)
	if _, err := os.Stat(filepath.Join(mount, dir)); err != nil {
		dir = "/"
	}
	for {
		v, ok, err := readLimit(filepath.Join(mount, dir, file))
		if err != nil {
			return 0, false, err
		}
		if ok && (!found || v < limit) {
			limit, found = v, true
		}
		if dir == "/" {
			return limit, found, nil
		}
		dir = path.Dir(dir)
	}
}

// readLimit reads a memory limit file; a missing file, "max" (v2) or a
// value past unlimitedV1 (v1) is no limit.
func readLimit(file string) (int64, bool, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	text := strings.TrimSpace(string(data))
	if text == "max" {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", file, err)
	}
	return v, v > 0 && v < unlimitedV1, nil
}

// Apply sets the runtime's soft memory limit to share of the cgroup's
// limit, unless GOMEMLIMIT sets one already, and says what it did. A
// cgroup it cannot read leaves the runtime's default, said as an error.
func Apply(log logr.Logger, c Cgroup) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Info("Go memory limit from GOMEMLIMIT", "GOMEMLIMIT", v)
		return
	}
	limit, ok, err := c.Limit()
	if err != nil {
		log.Error(err, "reading the cgroup's memory limit; the Go runtime keeps no memory limit")
		return
	}
	if !ok {
		log.Info("no cgroup memory limit; the Go runtime keeps no memory limit")
		return
	}
	soft := int64(float64(limit) * share)
	debug.SetMemoryLimit(soft)
	log.Info("Go memory limit set under the cgroup's", "cgroupLimit", limit, "goMemoryLimit", soft)
}
