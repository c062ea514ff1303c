package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ovs"
)

const (
	// shutdownTimeout lets requests in flight finish when the daemon stops.
	shutdownTimeout = 10 * time.Second
	// apiCheckTimeout bounds STATUS's probe of the API server.
	apiCheckTimeout = 3 * time.Second
)

// Options are what the daemon's process hands it.
type Options struct {
	Config Config
	// REST reaches the API server.
	REST *rest.Config
	// MetricsAddr serves /metrics; "0" disables it.
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz; "0" or "" disables them.
	ProbeAddr string
	Logger    logr.Logger
	// Registerer receives the daemon's metrics; controller-runtime's
	// registry (served on MetricsAddr) when nil.
	Registerer prometheus.Registerer
}

// Daemon is one node's agent.
type Daemon struct {
	cfg Config
	log logr.Logger
	// ovs is the Open_vSwitch database client; every OVS read is its cache.
	ovs *ovs.Client
	// node does link and route work in the node's namespace.
	node *nodeNetwork
	// mgr runs the informers (this node's pods, the node, Subnets) and
	// the reconcilers.
	mgr   ctrl.Manager
	cache client.Reader
	// pods lets ADD wait for the controller's record.
	pods *podWatch
	// locks serialises the commands of one container.
	locks keyedMutex
	// mirrorMu serialises mirror0's selection, read-modify-write.
	mirrorMu sync.Mutex
	metrics  *metrics
	// mtu of pod interfaces and ovn0.
	mtu int
	// api probes the API server for STATUS.
	api kubernetes.Interface
	// registerer receives the OVS client's metrics.
	registerer prometheus.Registerer
}

// New checks the configuration and builds the daemon's manager; Run
// starts it.
func New(opts Options) (*Daemon, error) {
	cfg := opts.Config.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("daemon configuration: %w", err)
	}
	reg := opts.Registerer
	if reg == nil {
		reg = crmetrics.Registry
	}
	mgr, err := ctrl.NewManager(opts.REST, ctrl.Options{
		Scheme:                 scheme(),
		Logger:                 opts.Logger,
		Metrics:                metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress: opts.ProbeAddr,
		Cache: cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Pod{}:  {Field: fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName)},
				&corev1.Node{}: {Field: fields.OneTermEqualSelector("metadata.name", cfg.NodeName)},
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	api, err := kubernetes.NewForConfig(opts.REST)
	if err != nil {
		return nil, fmt.Errorf("clientset: %w", err)
	}
	d := &Daemon{cfg: cfg, log: opts.Logger, mgr: mgr, cache: mgr.GetCache(), pods: newPodWatch(mgr.GetCache()),
		metrics: newMetrics(reg), api: api, registerer: reg}
	rec := mgr.GetEventRecorder("ovnet-daemon")
	if err := (&PodReconciler{daemon: d, recorder: rec}).SetupWithManager(mgr); err != nil {
		return nil, err
	}
	if err := (&NodeReconciler{daemon: d}).SetupWithManager(mgr); err != nil {
		return nil, err
	}
	return d, nil
}

// Run sets the node up, starts the informers and reconcilers, installs
// the CNI plugin and serves it until ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	node, err := openNodeNetwork(d.cfg.NetNS)
	if err != nil {
		return err
	}
	defer node.Close()
	d.node = node
	d.mtu = d.cfg.MTU
	if d.mtu == 0 {
		d.mtu = node.uplinkMTU() - tunnelOverhead
	}
	if d.ovs, err = ovs.Connect(ctx, ovs.Config{Endpoint: d.cfg.OVSDB, Registerer: d.registerer, Logger: d.log}); err != nil {
		return err
	}
	defer d.ovs.Close()
	if err := d.setUpNode(ctx); err != nil {
		return fmt.Errorf("node set-up: %w", err)
	}
	if err := d.addReadiness(); err != nil {
		return err
	}
	return d.serveUntilDone(ctx)
}

// serveUntilDone runs the manager and the CNI server together.
func (d *Daemon) serveUntilDone(ctx context.Context) error {
	informer, err := d.mgr.GetCache().GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	if _, err := informer.AddEventHandler(d.pods.handler()); err != nil {
		return fmt.Errorf("pod informer handler: %w", err)
	}
	listener, err := listen(d.cfg.Socket)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- d.mgr.Start(ctx) }()
	if !d.mgr.GetCache().WaitForCacheSync(ctx) {
		listener.Close()
		return errors.Join(errors.New("informers did not sync"), <-mgrDone)
	}
	// Installed only now: the kubelet reports the node ready once a
	// conflist exists, and ADD needs the caches.
	if err := installCNI(d.cfg); err != nil {
		listener.Close()
		return err
	}
	srv := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, done := context.WithTimeout(context.Background(), shutdownTimeout)
		defer done()
		_ = srv.Shutdown(shutdownCtx) // requests still running after the timeout are cut
	}()
	d.log.Info("serving CNI", "socket", d.cfg.Socket, "node", d.cfg.NodeName, "datapath", d.cfg.DatapathType, "mtu", d.mtu)
	err = srv.Serve(listener)
	cancel()
	mgrErr := <-mgrDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, mgrErr)
}

// scheme knows the kinds the daemon reads: the built-in ones and Subnet.
func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(ovnetv1.AddToScheme(s))
	return s
}

// addReadiness makes /readyz follow STATUS; /healthz says the process
// serves at all.
func (d *Daemon) addReadiness() error {
	if err := d.mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return d.mgr.AddReadyzCheck("cni", func(r *http.Request) error { return d.status(r.Context()) })
}

// apiReachable asks the API server for /readyz.
func (d *Daemon) apiReachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, apiCheckTimeout)
	defer cancel()
	return d.api.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
}
