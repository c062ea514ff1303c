package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovnet/ovnet/test/harness/wait"
)

// cgroupFS is where the host mounts its cgroup hierarchies (v1, one per
// controller, and the unified v2 one beside them).
const cgroupFS = "/sys/fs/cgroup"

// cgroupTree is a cgroup path (such as /ovnet-kc1/node-1) present in every
// hierarchy, so a kubelet may use it as its cgroupRoot and every process
// of a node can be found, and killed, through it.
type cgroupTree string

// cgroupHierarchies lists the mounted hierarchies, or the v2 root alone
// when cgroupFS is itself unified.
func cgroupHierarchies() ([]string, error) {
	if _, err := os.Stat(filepath.Join(cgroupFS, "cgroup.controllers")); err == nil {
		return []string{cgroupFS}, nil
	}
	entries, err := os.ReadDir(cgroupFS)
	if err != nil {
		return nil, fmt.Errorf("listing cgroup hierarchies: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		dir := filepath.Join(cgroupFS, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil && e.IsDir() {
			dirs = append(dirs, dir)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no cgroup hierarchy under %s", cgroupFS)
	}
	return dirs, nil
}

// makeCgroup creates path in every hierarchy and registers its removal
// (after killing what is left in it). A v1 cpuset starts with no CPUs, so
// each level copies its parent's.
func makeCgroup(tb T, path cgroupTree) {
	tb.Helper()
	hierarchies, err := cgroupHierarchies()
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { removeCgroup(tb, path) })
	for _, h := range hierarchies {
		dir := h
		for _, part := range strings.Split(strings.Trim(string(path), "/"), "/") {
			parent := dir
			dir = filepath.Join(dir, part)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				tb.Fatalf("creating cgroup %s: %v", dir, err)
			}
			for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
				if err := copyCgroupFile(parent, dir, file); err != nil {
					tb.Fatalf("creating cgroup %s: %v", dir, err)
				}
			}
		}
	}
}

// copyCgroupFile copies file from parent to dir when dir has it empty.
func copyCgroupFile(parent, dir, file string) error {
	cur, err := os.ReadFile(filepath.Join(dir, file))
	if errors.Is(err, os.ErrNotExist) || (err == nil && strings.TrimSpace(string(cur)) != "") {
		return nil
	}
	if err != nil {
		return err
	}
	val, err := os.ReadFile(filepath.Join(parent, file))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, file), val, 0o644)
}

// procsFiles are path's cgroup.procs in every hierarchy: writing a PID to
// each moves that process into path.
func (path cgroupTree) procsFiles() ([]string, error) {
	hierarchies, err := cgroupHierarchies()
	if err != nil {
		return nil, err
	}
	files := make([]string, len(hierarchies))
	for i, h := range hierarchies {
		files[i] = filepath.Join(h, string(path), "cgroup.procs")
	}
	return files, nil
}

// pids returns every process in path or below it, in any hierarchy.
func (path cgroupTree) pids() ([]int, error) {
	hierarchies, err := cgroupHierarchies()
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	for _, h := range hierarchies {
		err := filepath.WalkDir(filepath.Join(h, string(path)), func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil // a cgroup removed while walking
			}
			data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			if err != nil {
				return nil
			}
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					seen[pid] = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	pids := make([]int, 0, len(seen))
	for pid := range seen {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids, nil
}

// removeCgroup kills what is still in path (containers and shims a
// stopped containerd left: they are this harness's, since only it put
// processes there), then removes path's directories, deepest first.
func removeCgroup(tb T, path cgroupTree) {
	tb.Helper()
	err := wait.Until(context.Background(), 10*time.Second, "cgroup "+string(path)+" empty", func() error {
		pids, err := path.pids()
		if err != nil {
			return err
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if len(pids) > 0 {
			return fmt.Errorf("processes %v left", pids)
		}
		return nil
	})
	if err != nil {
		tb.Errorf("%v", err)
	}
	hierarchies, err := cgroupHierarchies()
	if err != nil {
		tb.Errorf("%v", err)
		return
	}
	for _, h := range hierarchies {
		if err := removeCgroupDirs(filepath.Join(h, string(path))); err != nil {
			tb.Errorf("removing cgroup: %v", err)
		}
	}
}

// removeCgroupDirs removes dir and the cgroups below it, deepest first;
// cgroupfs has no files to remove, only directories.
func removeCgroupDirs(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
