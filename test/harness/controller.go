package harness

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovntls"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// controllerReadyTimeout bounds how long a controller may take to rebuild
// its state and report ready; the restart benchmark's 10,000 pods need a few
// seconds, so this only catches hangs.
const controllerReadyTimeout = 2 * time.Minute

// DefaultNetwork is the controller configuration the suites use: the
// defaults of the command line.
func DefaultNetwork() controller.Config {
	return controller.Config{
		ClusterRouter: "ovn-cluster",
		DefaultSubnet: controller.SubnetDefaults{Name: "ovn-default", CIDR: "10.16.0.0/16"},
		JoinSubnet:    controller.SubnetDefaults{Name: "join", CIDR: "100.64.0.0/16"},
		ServiceCIDRs:  []netip.Prefix{netip.MustParsePrefix(DefaultServiceCIDR), netip.MustParsePrefix(DefaultServiceCIDRv6)},
		GCInterval:    2 * time.Second,
		PodWorkers:    controller.DefaultPodWorkers,
	}
}

var quietGlobalLog sync.Once

// quietControllerRuntime gives controller-runtime's global logger a sink,
// once: some of it (envtest among them) logs through it, and without one it
// prints a warning with a stack trace instead.
func quietControllerRuntime() {
	quietGlobalLog.Do(func() { ctrllog.SetLogger(logr.Discard()) })
}

// Controller is an ovnet controller running inside the test process.
type Controller struct {
	// LogFile holds the controller's log; its tail is printed when the test fails.
	LogFile string
	// Registry holds the controller's own metrics, such as its northbound
	// transaction count.
	Registry  *prometheus.Registry
	probeAddr string
	cancel    context.CancelFunc
	done      chan struct{}
	err       error
	stopOnce  sync.Once
}

// ProfileLabel is the pprof label an in-process controller's goroutines
// carry, with the value ProfileLabelController.
const (
	ProfileLabel           = "ovnet"
	ProfileLabelController = "controller"
)

// StartController runs the controller against api and nb until Stop or the
// end of the test, and waits until it reports ready.
func StartController(tb T, api *APIServer, nb Database, network controller.Config) *Controller {
	tb.Helper()
	return startController(tb, api, controller.Options{Network: network, NorthboundEndpoints: ovn.ParseEndpoints(nb.Remote())})
}

// StartControllerTLS runs the controller against nb's ssl: endpoint (a
// cluster's every member) with files, like StartController.
func StartControllerTLS(tb T, api *APIServer, nb TLSDatabase, files ovntls.Files, network controller.Config) *Controller {
	tb.Helper()
	if nb.SSLRemote() == "" {
		tb.Fatalf("StartControllerTLS: the northbound database has no ssl: endpoint (start it with StartNorthboundTLS or StartNorthboundClusterTLS)")
	}
	return startController(tb, api, controller.Options{Network: network,
		NorthboundEndpoints: ovn.ParseEndpoints(nb.SSLRemote()), NorthboundTLS: files})
}

// startController runs the controller with opts' network and northbound
// settings, its probes, metrics and log the harness's.
func startController(tb T, api *APIServer, opts controller.Options) *Controller {
	tb.Helper()
	quietControllerRuntime()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Controller{probeAddr: FreeAddr(tb), cancel: cancel, done: make(chan struct{}),
		LogFile: filepath.Join(tb.TempDir(), "controller.log"), Registry: prometheus.NewRegistry()}
	logFile, err := os.Create(c.LogFile)
	if err != nil {
		tb.Fatalf("starting controller: %v", err)
	}
	opts.MetricsAddr, opts.ProbeAddr, opts.Registerer = "0", c.probeAddr, c.Registry
	opts.Logger = zap.New(zap.WriteTo(logFile))
	tb.Cleanup(func() {
		logFile.Close()
		if tb.Failed() {
			tb.Logf("controller errors:\n%s", errorLines(c.LogFile, 10))
		}
	})
	go func() {
		defer close(c.done)
		// Every goroutine the controller starts inherits the label, so a
		// CPU profile of a process that also runs a test's client splits
		// the two (go tool pprof -tagfocus=ovnet=controller).
		pprof.Do(ctx, pprof.Labels(ProfileLabel, ProfileLabelController), func(ctx context.Context) {
			c.err = controller.Run(ctx, api.Config, opts)
		})
	}()
	tb.Cleanup(func() { c.Stop(tb) })
	c.waitReady(tb)
	return c
}

// NBTransactions is the number of northbound transactions the controller
// has committed or tried, from its ovnet_nb_transaction_duration_seconds.
func (c *Controller) NBTransactions(tb T) uint64 {
	tb.Helper()
	if m := c.firstMetric(tb, "ovnet_nb_transaction_duration_seconds"); m != nil {
		return m.GetHistogram().GetSampleCount()
	}
	return 0
}

// NBCommits is the number of transactions the controller has sent to the
// northbound server, from its ovnet_nb_commits_total: fewer than
// NBTransactions when transactions made together were sent together.
func (c *Controller) NBCommits(tb T) uint64 {
	tb.Helper()
	if m := c.firstMetric(tb, "ovnet_nb_commits_total"); m != nil {
		return uint64(m.GetCounter().GetValue())
	}
	return 0
}

// firstMetric is the first series of the metric name in the controller's
// registry, nil when there is none.
func (c *Controller) firstMetric(tb T, name string) *dto.Metric {
	tb.Helper()
	families, err := c.Registry.Gather()
	if err != nil {
		tb.Fatalf("reading controller metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0]
		}
	}
	return nil
}

// SettleNB waits until the controller has sent no northbound transaction
// for quiet, so that a test counting the writes of one change does not
// count the tail of earlier work (a loaded machine stretches it past any
// fixed pause). It fails the test if writes go on for a minute.
func (c *Controller) SettleNB(tb T, quiet time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	last, since := c.NBTransactions(tb), time.Now()
	for time.Since(since) < quiet {
		if time.Now().After(deadline) {
			tb.Fatalf("the controller kept writing to NB for a minute (%d transactions)", last)
		}
		time.Sleep(quiet / 10)
		if n := c.NBTransactions(tb); n != last {
			last, since = n, time.Now()
		}
	}
}

// NBTransactionCounts are the northbound transactions the controller has
// tried and, of those, the ones that failed.
func (c *Controller) NBTransactionCounts(tb T) (total, failed uint64) {
	tb.Helper()
	families, err := c.Registry.Gather()
	if err != nil {
		tb.Fatalf("reading controller metrics: %v", err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "ovnet_nb_transaction_duration_seconds":
				total = m.GetHistogram().GetSampleCount()
			case "ovnet_nb_transaction_errors_total":
				failed = uint64(m.GetCounter().GetValue())
			}
		}
	}
	return total, failed
}

// Gauge is the value of the gauge name whose labels are exactly labels,
// from the controller's registry; false when no such series exists.
func (c *Controller) Gauge(tb T, name string, labels map[string]string) (float64, bool) {
	tb.Helper()
	families, err := c.Registry.Gather()
	if err != nil {
		tb.Fatalf("reading controller metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if maps.Equal(got, labels) {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// Stop ends the controller and waits for it; it is safe to call twice.
func (c *Controller) Stop(tb T) {
	tb.Helper()
	c.stopOnce.Do(func() {
		c.cancel()
		<-c.done
		if c.err != nil {
			tb.Errorf("controller: %v", c.err)
		}
	})
}

// Ready is the answer of the controller's /readyz: nil while it is ready.
func (c *Controller) Ready() error { return probe("http://" + c.probeAddr + "/readyz") }

func (c *Controller) waitReady(tb T) {
	tb.Helper()
	waitReadyz(tb, c.probeAddr, c.done)
}

// waitReadyz polls /readyz until it answers 200, failing if exited closes first.
func waitReadyz(tb T, addr string, exited <-chan struct{}) {
	tb.Helper()
	wait.For(tb, controllerReadyTimeout, "controller ready", func() error {
		err := probe("http://" + addr + "/readyz")
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return wait.Stop(fmt.Errorf("controller exited (last: %w)", err))
		default:
			return err
		}
	})
}

// FreeAddr returns a loopback address with a port nothing listens on.
func FreeAddr(tb T) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ControllerProcess is the ovnet-controller binary running as a child
// process, for tests that kill it without warning.
type ControllerProcess struct {
	cmd       *exec.Cmd
	probeAddr string
	done      chan struct{}
	LogFile   string
}

// BuildController compiles cmd/controller, once per test process.
func BuildController(tb T) string {
	tb.Helper()
	return Build(tb, "./cmd/controller", "ovnet-controller")
}

// StartControllerProcess runs the binary with the default flags against
// api and nb and waits until it reports ready. extraArgs are appended.
func StartControllerProcess(tb T, bin string, api *APIServer, nb Database, extraArgs ...string) *ControllerProcess {
	tb.Helper()
	p := LaunchControllerProcess(tb, bin, api, nb, extraArgs...)
	p.WaitReady(tb)
	return p
}

// LaunchControllerProcess runs the binary like StartControllerProcess but
// returns at once: a standby replica never becomes ready.
func LaunchControllerProcess(tb T, bin string, api *APIServer, nb Database, extraArgs ...string) *ControllerProcess {
	tb.Helper()
	p := &ControllerProcess{probeAddr: FreeAddr(tb), done: make(chan struct{}),
		LogFile: filepath.Join(tb.TempDir(), "controller.log")}
	logFile, err := os.Create(p.LogFile)
	if err != nil {
		tb.Fatalf("start controller: %v", err)
	}
	defer logFile.Close()
	args := append([]string{"--kubeconfig=" + api.Kubeconfig, "--nb-address=" + nb.Remote(),
		"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=" + p.probeAddr,
		"--gc-interval=2s"}, extraArgs...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start controller: %v", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("%s errors:\n%s\n%s", p, errorLines(p.LogFile, 10), tail([]string{p.LogFile}))
			// OVNET_KEEP_LOGS names a directory that keeps the whole log past the test.
			if os.Getenv("OVNET_KEEP_LOGS") != "" {
				data, _ := os.ReadFile(p.LogFile)
				_ = os.WriteFile(os.Getenv("OVNET_KEEP_LOGS")+"/"+filepath.Base(filepath.Dir(p.LogFile))+".log", data, 0o644)
			}
		}
	})
	return p
}

// WaitReady waits until the process reports ready on /readyz.
func (p *ControllerProcess) WaitReady(tb T) {
	tb.Helper()
	waitReadyz(tb, p.probeAddr, p.done)
}

// Kill ends the process with SIGKILL, as a crash or an OOM kill would, and
// waits for it.
func (p *ControllerProcess) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// String names the process for failure messages.
func (p *ControllerProcess) String() string {
	return fmt.Sprintf("ovnet-controller pid %d (log %s)", p.cmd.Process.Pid, p.LogFile)
}

// errorLines returns the last n lines of a log that report an error, the
// lines a failing test needs instead of the shutdown chatter at the end.
// LogLine returns the last line of the controller's log whose message is
// msg (as the JSON logger writes it), or "" when there is none.
func (c *Controller) LogLine(msg string) string {
	data, err := os.ReadFile(c.LogFile)
	if err != nil {
		return ""
	}
	key := fmt.Sprintf(`"msg":%q`, msg)
	lines := strings.Split(string(data), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], key) {
			return lines[i]
		}
	}
	return ""
}

func errorLines(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var errs []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "ERROR") {
			errs = append(errs, line)
		}
	}
	if len(errs) > n {
		errs = errs[len(errs)-n:]
	}
	return strings.Join(errs, "\n")
}
