package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ovnet/ovnet/pkg/ovs"
)

const (
	// DefaultDir is where `make sandbox` keeps its state.
	DefaultDir = "/tmp/ovnet-sandbox"
	// FarPort is the far network's probe server port (TCP and UDP).
	FarPort = 8080
	// ReleaseName and ReleaseNamespace are the Helm release.
	ReleaseName      = "ovnet"
	ReleaseNamespace = "kube-system"
	// maxNodes keeps node addresses inside the underlay below the external host.
	maxNodes = 9
	// raftMembers is the size of OVN central's Raft clusters with RAFT=1.
	raftMembers = 3
)

// Config is what a sandbox is started with; FromEnv reads it for the program.
type Config struct {
	// Dir holds the state file, sandbox.env, kubeconfig, logs and the nodes.
	Dir string
	// Nodes is the number of kind-like nodes; node 1 is the control plane.
	Nodes int
	// Examples applies yamls/examples/ once the nodes are Ready.
	Examples bool
	// Raft runs OVN central as 3-member Raft clusters on nodes 1 to 3
	// (ovn.central.replicas=3) instead of one standalone pod on node 1.
	Raft bool
	// Encap is the tunnel between nodes (node.encapType), geneve or vxlan;
	// geneve when empty.
	Encap string
	// Repo is the repository root (charts/, yamls/, hack/).
	Repo string
	// KubeBin holds kubectl and the Kubernetes binaries.
	KubeBin string
}

// FromEnv reads SANDBOX_DIR, NODES, EXAMPLES, RAFT, ENCAP and KUBEBUILDER_ASSETS;
// an unusable value is an error, never silently replaced.
func FromEnv(repo string) (Config, error) {
	cfg := Config{Dir: DefaultDir, Nodes: 1, Examples: true, Encap: ovs.EncapGeneve, Repo: repo,
		KubeBin: os.Getenv("KUBEBUILDER_ASSETS")}
	if d := os.Getenv("SANDBOX_DIR"); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return cfg, fmt.Errorf("SANDBOX_DIR=%s: %w", d, err)
		}
		cfg.Dir = abs
	}
	if n := os.Getenv("NODES"); n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || v > maxNodes {
			return cfg, fmt.Errorf("NODES=%s: want a number from 1 to %d", n, maxNodes)
		}
		cfg.Nodes = v
	}
	switch e := os.Getenv("EXAMPLES"); e {
	case "", "1":
	case "0":
		cfg.Examples = false
	default:
		return cfg, fmt.Errorf("EXAMPLES=%s: want 0 or 1", e)
	}
	switch r := os.Getenv("RAFT"); r {
	case "", "0":
	case "1":
		if cfg.Nodes < raftMembers {
			return cfg, fmt.Errorf("RAFT=1 needs NODES=%d or more: one member per node", raftMembers)
		}
		cfg.Raft = true
	default:
		return cfg, fmt.Errorf("RAFT=%s: want 0 or 1", r)
	}
	if e := os.Getenv("ENCAP"); e != "" {
		if err := ovs.CheckEncapType(e); err != nil {
			return cfg, fmt.Errorf("ENCAP=%s: %w", e, err)
		}
		cfg.Encap = e
	}
	if cfg.KubeBin == "" {
		return cfg, fmt.Errorf("KUBEBUILDER_ASSETS is not set (the Makefile sets it to the directory `make tools` fills)")
	}
	return cfg, nil
}

// Paths under Dir.
func (c Config) statePath() string { return filepath.Join(c.Dir, "state.json") }
func (c Config) envPath() string   { return filepath.Join(c.Dir, "sandbox.env") }
func (c Config) logDir() string    { return filepath.Join(c.Dir, "log") }
func (c Config) runDir() string    { return filepath.Join(c.Dir, "run") }
func (c Config) supervisorLog() string {
	return filepath.Join(c.logDir(), "supervisor.log")
}
