package harness

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	// defaultQPS and defaultBurst lift client-go's 5/10 limits: the suites
	// create thousands of pods and must measure the code, not the throttle.
	defaultQPS   = 1000
	defaultBurst = 2000
	// DefaultServiceCIDR and DefaultServiceCIDRv6 are the API server's
	// service-cluster-ip-range and the controller's --service-cidr in
	// DefaultNetwork.
	DefaultServiceCIDR = "10.96.0.0/12"
	// DefaultServiceCIDRv6 is the API server's second service range, so
	// that a test can ask for IPv6 and dual-stack Services; Services that
	// ask for no family still get an IPv4 address from the first range.
	DefaultServiceCIDRv6 = "fd00:96::/112"
	// serviceClusterIPRange is kube-apiserver's dual-stack flag value.
	serviceClusterIPRange = DefaultServiceCIDR + "," + DefaultServiceCIDRv6
	// crdDir is where `make generate` writes the CRDs, relative to the repo root.
	crdDir = "config/crd"
	// controlPlaneStartTimeout bounds each of envtest's tries to start etcd
	// and kube-apiserver. Its default of 20 s is too short when `make test`
	// runs three suites at once on two cores: kube-apiserver then took
	// longer to report ready, five times in a row (2026-12-03, load 35).
	controlPlaneStartTimeout = time.Minute
)

// APIServerOptions adjusts StartAPIServer; the zero value is what most tests want.
type APIServerOptions struct {
	// CRDPaths are CRD files or directories installed besides config/crd.
	CRDPaths []string
	// QPS and Burst of Config; zero means 1000 and 2000.
	QPS   float32
	Burst int
	// APIServerFlags are extra kube-apiserver flags, name without dashes.
	APIServerFlags map[string][]string
}

// APIServer is a running etcd + kube-apiserver with the project's CRDs installed.
type APIServer struct {
	// Config reaches the server as a system:masters user.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file with the same credentials,
	// for a controller started as a subprocess.
	Kubeconfig string
	// LogDir holds etcd.log and kube-apiserver.log.
	LogDir string
	// etcd and apiServer are the running processes, which Stop and Restart
	// end and start again on the same ports, data and certificates.
	etcd      *envtest.Etcd
	apiServer *envtest.APIServer
}

// StartAPIServer starts etcd and kube-apiserver from KubeAssetsDir and
// installs every CRD under <repo>/config/crd; they are stopped by tb.Cleanup.
// Missing binaries or CRDs fail the test instead of skipping it.
func StartAPIServer(tb T, opts APIServerOptions) *APIServer {
	tb.Helper()
	quietControllerRuntime()
	assets, err := KubeAssetsDir()
	if err != nil {
		tb.Fatalf("starting kube-apiserver: %v", err)
	}
	root, err := RepoRoot()
	if err != nil {
		tb.Fatalf("starting kube-apiserver: %v", err)
	}
	dir := tb.TempDir()
	// Directories of the test's, not envtest's temporary ones, which its
	// Stop would delete: a Restart finds the data and certificates again.
	etcdData, certs := filepath.Join(dir, "etcd"), filepath.Join(dir, "certs")
	for _, d := range []string{etcdData, certs} {
		if err := os.Mkdir(d, 0o700); err != nil {
			tb.Fatalf("starting kube-apiserver: %v", err)
		}
	}
	etcdLog := createLog(tb, filepath.Join(dir, "etcd.log"))
	apiLog := createLog(tb, filepath.Join(dir, "kube-apiserver.log"))

	// Paths are set explicitly so envtest's TEST_ASSET_* variables cannot
	// swap in binaries other than the ones KubeAssetsDir checked.
	apiServer := &envtest.APIServer{Path: filepath.Join(assets, "kube-apiserver"), Out: apiLog, Err: apiLog, CertDir: certs,
		StartTimeout: controlPlaneStartTimeout}
	// The cluster's Services get addresses from the controller's default
	// service CIDR, as in a cluster installed with ovnet's defaults.
	apiServer.Configure().Set("service-cluster-ip-range", serviceClusterIPRange)
	for flag, values := range opts.APIServerFlags {
		apiServer.Configure().Set(flag, values...)
	}
	etcd := &envtest.Etcd{Path: filepath.Join(assets, "etcd"), Out: etcdLog, Err: etcdLog, DataDir: etcdData,
		StartTimeout: controlPlaneStartTimeout}
	env := &envtest.Environment{
		ControlPlane: envtest.ControlPlane{
			APIServer:   apiServer,
			Etcd:        etcd,
			KubectlPath: filepath.Join(assets, "kubectl"),
		},
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     append([]string{filepath.Join(root, crdDir)}, opts.CRDPaths...),
		ErrorIfCRDPathMissing: true,
		// USE_EXISTING_CLUSTER must never point a test at a real cluster.
		UseExistingCluster: ptr.To(false),
	}
	cfg, err := env.Start()
	if err != nil {
		// Start may leave etcd running when a later step (CRDs) fails.
		_ = env.Stop()
		tb.Fatalf("starting kube-apiserver (logs in %s): %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := env.Stop(); err != nil {
			tb.Errorf("stopping kube-apiserver: %v", err)
		}
	})

	cfg.QPS, cfg.Burst = defaultQPS, defaultBurst
	if opts.QPS != 0 {
		cfg.QPS = opts.QPS
	}
	if opts.Burst != 0 {
		cfg.Burst = opts.Burst
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		tb.Fatalf("writing kubeconfig: %v", err)
	}
	return &APIServer{Config: cfg, Kubeconfig: kubeconfig, LogDir: dir, etcd: etcd, apiServer: apiServer}
}

// Stop kills kube-apiserver (SIGKILL, by PID: with watchers connected
// its graceful shutdown outlasts envtest's 20 s bound) and then stops etcd
// (SIGTERM), as an outage of the control plane would: every client's
// connection drops and new ones are refused. Restart brings them back.
func (a *APIServer) Stop(tb T) {
	tb.Helper()
	// Its own cert dir, a directory of this test's, names it among the
	// harness's children.
	pids, err := childrenRunning("--cert-dir=" + a.apiServer.CertDir)
	if err != nil || len(pids) != 1 {
		tb.Fatalf("finding kube-apiserver of %s: %v %v", a.apiServer.CertDir, pids, err)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		tb.Fatalf("killing kube-apiserver (pid %d): %v", pids[0], err)
	}
	// envtest reaps it and, finding it exited, only resets its state.
	if err := a.apiServer.Stop(); err != nil {
		tb.Fatalf("stopping kube-apiserver: %v", err)
	}
	if err := a.etcd.Stop(); err != nil {
		tb.Fatalf("stopping etcd: %v", err)
	}
}

// childrenRunning are this process's children whose command line holds
// every one of words as an argument.
func childrenRunning(words ...string) ([]int, error) {
	kids, err := children()
	if err != nil {
		return nil, err
	}
	var found []int
	for pid := range kids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue // exited meanwhile
		}
		if hasEvery(strings.Split(strings.TrimRight(string(data), "\x00"), "\x00"), words) {
			found = append(found, pid)
		}
	}
	return found, nil
}

// children maps the PIDs of this process's live children to their
// command names; envtest does not expose the PIDs of etcd and
// kube-apiserver, so they are found as children.
func children() (map[int]string, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	kids := map[int]string{}
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // exited while we looked
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
		stat := string(data)
		open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(stat[end+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == self {
			pid, _ := strconv.Atoi(strings.TrimSpace(stat[:open]))
			kids[pid] = stat[open+1 : end]
		}
	}
	return kids, nil
}

// Restart starts etcd on its data and kube-apiserver on the same address,
// port and certificates as before Stop, so clients holding the old
// kubeconfig reconnect to the objects they knew. It returns once the API
// server reports healthy.
func (a *APIServer) Restart(tb T) {
	tb.Helper()
	if err := a.etcd.Start(); err != nil {
		tb.Fatalf("restarting etcd (log in %s): %v", a.LogDir, err)
	}
	if err := a.apiServer.Start(); err != nil {
		tb.Fatalf("restarting kube-apiserver (log in %s): %v", a.LogDir, err)
	}
	if got := a.apiServer.SecureServing.URL("https", "").Host; got != hostOf(a.Config.Host) {
		tb.Fatalf("kube-apiserver restarted on %s, clients know %s", got, a.Config.Host)
	}
}

// hostOf is the host:port of a rest.Config's Host, a URL or a bare host.
func hostOf(host string) string {
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		return host
	}
	return u.Host
}

// createLog opens a log file that is closed after the processes writing to
// it have been stopped (cleanups run last-registered first).
func createLog(tb T, path string) *os.File {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatalf("creating log file: %v", err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return f
}
