package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Phase is where the supervisor is in the sandbox's life.
type Phase string

const (
	PhaseStarting  Phase = "starting"
	PhaseUp        Phase = "up"
	PhaseUpgrading Phase = "upgrading"
	PhaseFailed    Phase = "failed"
	PhaseStopping  Phase = "stopping"
)

// State is the state file: what `up` waits on, what status prints, and
// what down removes, also after the supervisor crashed.
type State struct {
	// Supervisor owns every process of the sandbox; down signals it.
	Supervisor Process `json:"supervisor"`
	Phase      Phase   `json:"phase"`
	// Error says why Phase is failed.
	Error string `json:"error,omitempty"`
	// Started and Ready time the supervisor's start and the sandbox up.
	Started time.Time `json:"started"`
	Ready   time.Time `json:"ready,omitzero"`
	// Nodes are the kind-like nodes, node 1 the control plane.
	Nodes []NodeState `json:"nodes,omitempty"`
	// NetNS are every network namespace the sandbox made, nodes' and the
	// outside world's, for a down after a crash.
	NetNS []string `json:"netns,omitempty"`
	// Cgroups are the cgroup paths (relative to each hierarchy's root)
	// holding the nodes' processes, containers included.
	Cgroups []string `json:"cgroups,omitempty"`
	// Kubeconfig reaches the API server from the host.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// NB and SB are the OVN databases as the host reaches them (tcp:127.0.0.1:port).
	NB string `json:"nb,omitempty"`
	SB string `json:"sb,omitempty"`
	// TcpdumpFlags are `kubectl ovnet tcpdump`'s flags for these nodes.
	TcpdumpFlags string `json:"tcpdumpFlags,omitempty"`
	// External and Far are the outside world's namespaces.
	External string `json:"external,omitempty"`
	Far      string `json:"far,omitempty"`
	Underlay string `json:"underlay,omitempty"`
	// ImageTag is the ovnet image tag the release runs; ChartSum the
	// chart's content when it was installed: `up` while up upgrades when
	// either changed.
	ImageTag string `json:"imageTag,omitempty"`
	// ImageArchive is the image's archive in the cache, removed when an
	// upgrade replaces it.
	ImageArchive string `json:"imageArchive,omitempty"`
	ChartSum     string `json:"chartSum,omitempty"`
	// Upgrades counts the upgrades the supervisor finished (or failed), so
	// `up` again knows when its own is done.
	Upgrades int `json:"upgrades,omitempty"`
	// Figures are timings measured on the way up.
	Figures []Figure `json:"figures,omitempty"`
}

// NodeState is one node as the host sees it.
type NodeState struct {
	Name    string `json:"name"`
	NetNS   string `json:"netns"`
	Address string `json:"address"`
	// MountNSPID is a process whose mount namespace is the node's (nsenter -t).
	MountNSPID int `json:"mountNSPID,omitempty"`
}

// Figure is one measured duration.
type Figure struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Process names a process so that a reused PID is never mistaken for it:
// the PID and its start time in clock ticks since boot (/proc/PID/stat).
type Process struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

// Self is the calling process.
func Self() (Process, error) { return processOf(os.Getpid()) }

func processOf(pid int) (Process, error) {
	start, err := startTime(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{PID: pid, StartTime: start}, nil
}

// Alive reports whether the process still runs (a zombie does not).
func (p Process) Alive() bool {
	if p.PID <= 0 {
		return false
	}
	start, err := startTime(p.PID)
	if err != nil || start != p.StartTime {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return false
	}
	fields := statFields(string(data))
	return len(fields) > 0 && fields[0] != "Z"
}

// Signal sends sig if the process is still the one recorded.
func (p Process) Signal(sig syscall.Signal) error {
	if !p.Alive() {
		return fmt.Errorf("process %d is not running", p.PID)
	}
	return syscall.Kill(p.PID, sig)
}

// startTime is field 22 of /proc/PID/stat.
func startTime(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	fields := statFields(string(data))
	const startTimeField = 22 - 3 // fields after "pid (comm)"
	if len(fields) <= startTimeField {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.ParseUint(fields[startTimeField], 10, 64)
}

// statFields are /proc/PID/stat's fields after the command name, which may
// hold spaces and parentheses itself.
func statFields(stat string) []string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
}

// LoadState reads the state file; os.ErrNotExist when there is none.
func LoadState(path string) (State, error) {
	var s State
	data, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("reading %s: %w", path, err)
	}
	return s, nil
}

// Save writes the state file atomically, so a reader never sees half of it.
func (s State) Save(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("writing %s: %w", path, err), os.Remove(tmp))
	}
	return nil
}
