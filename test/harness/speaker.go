package harness

import (
	"net/netip"
	"net/url"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/ovnet/ovnet/pkg/speaker"
)

// SpeakerOptions says how to run a node's ovnet-speaker.
type SpeakerOptions struct {
	Node *Node
	API  *APIServer
	// Address is the node's address: router ID and next hop.
	Address netip.Addr
	// IPv6, if valid, is the node's IPv6 address, the next hop of IPv6
	// prefixes (--node-ip IPv4,IPv6 as the chart passes status.hostIPs).
	IPv6 netip.Addr
	// Config is written into a temporary file, as the chart's Secret.
	Config speaker.Config
	// Args are extra flags, after the harness's own.
	Args []string
}

// The speaker's HTTP endpoints in its node's namespace, the chart's
// default ports, each relayed to the test's loopback.
const (
	speakerMetricsAddr = "127.0.0.1:10667"
	speakerHealthAddr  = "127.0.0.1:10668"
)

// Speaker is ovnet-speaker built from this repository, running as a
// process in its node's network namespace as the chart's host-network
// DaemonSet does, so its BGP sessions leave from the node's address. The
// API server is relayed into that namespace at the address of the test's.
type Speaker struct {
	// LogFile collects every run.
	LogFile string
	// ConfigFile is the configuration it was started with.
	ConfigFile string
	// MetricsAddr serves /metrics and HealthAddr /healthz, on the test's
	// loopback, relayed into the node's namespace.
	MetricsAddr, HealthAddr string
	argv                    []string
	daemon                  *daemon
}

// StartSpeaker writes the configuration and starts the speaker; tb.Cleanup
// stops it (SIGTERM) if it is still running.
func StartSpeaker(tb T, opts SpeakerOptions) *Speaker {
	tb.Helper()
	dir := tb.TempDir()
	s := &Speaker{LogFile: filepath.Join(dir, "ovnet-speaker.log"), ConfigFile: filepath.Join(dir, "speaker.yaml")}
	s.Configure(tb, opts.Config)
	api, err := url.Parse(opts.API.Config.Host)
	if err != nil {
		tb.Fatalf("API server address %q: %v", opts.API.Config.Host, err)
	}
	RelayIntoNetNS(tb, opts.Node.Chassis.NetNS, api.Host)
	s.MetricsAddr = startForwarder(tb, opts.Node.Chassis.NetNS, speakerMetricsAddr).Addr()
	s.HealthAddr = startForwarder(tb, opts.Node.Chassis.NetNS, speakerHealthAddr).Addr()
	nodeIP := opts.Address.String()
	if opts.IPv6.IsValid() {
		nodeIP += "," + opts.IPv6.String()
	}
	s.argv = inNetNS(opts.Node.Chassis.NetNS, append([]string{Build(tb, "./cmd/speaker", "ovnet-speaker"),
		"--kubeconfig=" + opts.API.Kubeconfig, "--config=" + s.ConfigFile, "--node-name=" + opts.Node.Name,
		"--node-ip=" + nodeIP, "--metrics-address=" + speakerMetricsAddr,
		"--health-probe-address=" + speakerHealthAddr}, opts.Args...)...)
	s.Start(tb)
	tb.Cleanup(func() { s.Stop(tb) })
	return s
}

// Configure writes the configuration the next Start reads.
func (s *Speaker) Configure(tb T, cfg speaker.Config) {
	tb.Helper()
	data, err := yaml.Marshal(cfg)
	if err != nil {
		tb.Fatalf("speaker configuration: %v", err)
	}
	if err := os.WriteFile(s.ConfigFile, data, 0o600); err != nil {
		tb.Fatalf("speaker configuration: %v", err)
	}
}

// Start starts the speaker (again).
func (s *Speaker) Start(tb T) {
	tb.Helper()
	if s.daemon != nil {
		tb.Fatalf("ovnet-speaker is already running (pid %d)", s.daemon.pid())
	}
	s.daemon = spawn(tb, daemonSpec{name: "ovnet-speaker", argv: s.argv, logFile: s.LogFile, stderrFile: s.LogFile})
}

// Stop stops the speaker with SIGTERM, as a DaemonSet update or removal
// does, and waits until it exited. A second call does nothing.
func (s *Speaker) Stop(tb T) {
	tb.Helper()
	if s.daemon == nil {
		return
	}
	s.daemon.stop(tb)
	s.daemon = nil
}

// Kill kills the speaker with SIGKILL, as a crash would.
func (s *Speaker) Kill(tb T) {
	tb.Helper()
	if s.daemon == nil {
		tb.Fatalf("ovnet-speaker is not running")
	}
	s.daemon.kill()
	s.daemon = nil
}

// Exited reports whether the speaker ended on its own, with its log.
func (s *Speaker) Exited() (string, bool) {
	if s.daemon == nil {
		return "", false
	}
	return s.daemon.exited()
}
