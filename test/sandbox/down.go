package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovnet/ovnet/test/harness"
)

const (
	// stopTimeout bounds the supervisor's own cleanup: pods deleted,
	// daemons stopped, namespaces removed. It takes seconds; a hang past
	// this is a bug, and down then removes what the state file lists.
	stopTimeout = 3 * time.Minute
	// cgroupRoot is where the cgroup hierarchies are mounted.
	cgroupRoot = "/sys/fs/cgroup"
)

// Down stops the sandbox in cfg.Dir and removes everything it made and the
// directory itself; keepLogs keeps the *.log files (and nothing else). It
// works after a crash too: what the dead supervisor did not remove is
// removed from what its state file lists.
func Down(cfg Config, out io.Writer, keepLogs bool) error {
	st, err := LoadState(cfg.statePath())
	switch {
	case errors.Is(err, os.ErrNotExist):
		if _, statErr := os.Stat(cfg.Dir); errors.Is(statErr, os.ErrNotExist) {
			fmt.Fprintf(out, "sandbox: nothing to stop in %s\n", cfg.Dir)
			return nil
		}
	case err != nil:
		return err
	case st.Supervisor.Alive():
		if err := stopSupervisor(cfg, st, out); err != nil {
			fmt.Fprintf(out, "sandbox: %v; removing what the state file lists\n", err)
		}
	default:
		fmt.Fprintf(out, "sandbox: the supervisor (pid %d) is gone; removing what the state file lists\n", st.Supervisor.PID)
		st = withUnrecorded(st)
	}
	var errs []error
	if err == nil {
		errs = append(errs, removeLeftovers(st, out)...)
	}
	errs = append(errs, unmountUnder(cfg.Dir, out)...)
	if len(errs) > 0 {
		return fmt.Errorf("sandbox: down left things behind; %s kept: %w", cfg.Dir, errors.Join(errs...))
	}
	if err := removeDir(cfg.Dir, keepLogs); err != nil {
		return err
	}
	if keepLogs {
		fmt.Fprintf(out, "sandbox: down; logs kept in %s\n", cfg.Dir)
	} else {
		fmt.Fprintf(out, "sandbox: down; removed %s (KEEP_LOGS=1 keeps the logs)\n", cfg.Dir)
	}
	return nil
}

// stopSupervisor sends SIGTERM and follows the supervisor's log until it
// exits; after stopTimeout it is killed.
func stopSupervisor(cfg Config, st State, out io.Writer) error {
	fmt.Fprintf(out, "sandbox: stopping (supervisor pid %d)\n", st.Supervisor.PID)
	follow := newLogFollower(cfg.supervisorLog(), out)
	follow.skipExisting()
	if err := st.Supervisor.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(stopTimeout)
	for st.Supervisor.Alive() {
		follow.copyNew()
		if time.Now().After(deadline) {
			_ = st.Supervisor.Signal(syscall.SIGKILL)
			return fmt.Errorf("the supervisor did not stop within %s: killed it", stopTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	follow.copyNew()
	return nil
}

// withUnrecorded adds to st the network namespaces and top-level cgroups
// the dead supervisor named (harness.UniqueName carries its PID) but had
// not recorded yet: it may have died while starting the nodes.
func withUnrecorded(st State) State {
	known := map[string]bool{}
	for _, n := range append(append([]string{}, st.NetNS...), st.Cgroups...) {
		known[strings.TrimPrefix(n, "/")] = true
	}
	if entries, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range entries {
			if !known[e.Name()] && harness.MadeBy(st.Supervisor.PID, e.Name()) {
				st.NetNS = append(st.NetNS, e.Name())
			}
		}
	}
	seen := map[string]bool{}
	hierarchies, _ := filepath.Glob(filepath.Join(cgroupRoot, "*"))
	for _, h := range append(hierarchies, cgroupRoot) {
		entries, err := os.ReadDir(h)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && !known[e.Name()] && !seen[e.Name()] && harness.MadeBy(st.Supervisor.PID, e.Name()) {
				seen[e.Name()] = true
				st.Cgroups = append(st.Cgroups, "/"+e.Name())
			}
		}
	}
	return st
}

// removeLeftovers kills what still runs in the nodes' cgroups and removes
// the cgroups and network namespaces the state file lists. After a clean
// stop there is nothing left and this does nothing.
func removeLeftovers(st State, out io.Writer) []error {
	var errs []error
	for _, cg := range st.Cgroups {
		errs = append(errs, removeCgroup(cg, out)...)
	}
	for _, ns := range st.NetNS {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
			continue
		}
		if b, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("deleting network namespace %s: %v: %s", ns, err, b))
			continue
		}
		fmt.Fprintf(out, "sandbox: deleted network namespace %s\n", ns)
	}
	return errs
}

// removeCgroup kills every process in the cgroup path (in every hierarchy
// that has it) and removes its directories, deepest first.
func removeCgroup(path string, out io.Writer) []error {
	var dirs []string
	hierarchies, _ := filepath.Glob(filepath.Join(cgroupRoot, "*"))
	hierarchies = append(hierarchies, cgroupRoot) // cgroup v2's single hierarchy
	for _, h := range hierarchies {
		top := filepath.Join(h, path)
		_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	if len(dirs) == 0 {
		return nil
	}
	killed := map[int]bool{} // every hierarchy lists the same processes
	for _, d := range dirs {
		for _, pid := range cgroupPIDs(d) {
			if !killed[pid] && syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed[pid] = true
			}
		}
	}
	if len(killed) > 0 {
		fmt.Fprintf(out, "sandbox: killed %d processes left in cgroup %s\n", len(killed), path)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var errs []error
	for _, d := range dirs {
		var err error
		for try := 0; try < 50; try++ { // killed processes leave the cgroup once reaped
			if err = os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
		}
	}
	return errs
}

func cgroupPIDs(dir string) []int {
	f, err := os.Open(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var pids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// unmountUnder unmounts whatever is still mounted below dir in the host's
// mount namespace, deepest first: removing the directory through a bind
// mount would delete what it shows.
func unmountUnder(dir string, out io.Writer) []error {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return []error{err}
	}
	var mounts []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 1 && strings.HasPrefix(fields[1], dir+"/") {
			mounts = append(mounts, fields[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	var errs []error
	for _, m := range mounts {
		if err := syscall.Unmount(m, 0); err != nil && syscall.Unmount(m, syscall.MNT_DETACH) != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
			continue
		}
		fmt.Fprintf(out, "sandbox: unmounted %s\n", m)
	}
	return errs
}

// removeDir removes dir, or with keepLogs everything in it but *.log files.
func removeDir(dir string, keepLogs bool) error {
	if !keepLogs {
		return os.RemoveAll(dir)
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			dirs = append(dirs, p)
		case !strings.HasSuffix(p, ".log"):
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		_ = os.Remove(d) // fails, as it should, where logs remain
	}
	return nil
}
