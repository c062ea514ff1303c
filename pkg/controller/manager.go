package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovntls"
)

// LeaderElectionID names the replicas' leader Lease.
const LeaderElectionID = "ovnet-controller"

// Options configure a controller process.
type Options struct {
	// Network holds the cluster-wide settings.
	Network Config
	// NorthboundEndpoints are the NB database's addresses.
	NorthboundEndpoints []string
	// NorthboundTLS are the files of ssl: endpoints; all three or none.
	NorthboundTLS ovntls.Files
	// NorthboundServerName, when set, is the name the NB server's
	// certificate must carry; empty checks its chain only, as OVN does.
	NorthboundServerName string
	// LeaderElection makes only one of several replicas act.
	LeaderElection bool
	// LeaderElectionNamespace holds the lease; empty means the in-cluster namespace.
	LeaderElectionNamespace string
	// LeaseDuration is how long a dead leader's lease keeps others waiting.
	LeaseDuration time.Duration
	// MetricsAddr serves /metrics ("0" disables).
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz ("0" disables).
	ProbeAddr string
	// Registerer receives ovnet's metrics; nil means the manager's registry,
	// served on MetricsAddr. Tests running several controllers in one
	// process pass registries of their own.
	Registerer prometheus.Registerer
	// Logger receives the controller's logs; the zero value means ctrl.Log.
	Logger logr.Logger
}

// Scheme knows the built-in kinds and ovnet's Subnet.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilMust(clientgoscheme.AddToScheme(s))
	utilMust(ovnetv1.AddToScheme(s))
	return s
}

func utilMust(err error) {
	if err != nil {
		panic(err)
	}
}

// Run connects to the northbound database, wires the reconcilers and runs
// them until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	if opts.Registerer == nil {
		opts.Registerer = crmetrics.Registry
	}
	if opts.Network.GatewayLeaseNamespace == "" {
		opts.Network.GatewayLeaseNamespace = gatewayhealth.DefaultNamespace
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = ctrl.Log
	}
	ctx = log.IntoContext(ctx, opts.Logger)
	nbTLS, err := northboundTLS(opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the informers started before the manager
	// The NB snapshot loads while the manager is made and the API server's
	// objects load: at 20,000 pods each takes seconds, and none needs
	// another.
	pending := connectNorthbound(ctx, ovn.Config{Endpoints: opts.NorthboundEndpoints, TLS: nbTLS,
		Registerer: opts.Registerer, Logger: opts.Logger.WithName("nbdb")})
	mgr, err := startCache(ctx, cfg, opts)
	if err != nil {
		pending.discard()
		return err
	}
	nb, err := pending.wait(opts.Logger)
	if err != nil {
		return err
	}
	defer nb.Close()
	network := NewNetwork(opts.Network, nb)
	if err := wire(mgr, network, opts.Registerer); err != nil {
		return err
	}
	// Readiness, not liveness: the client reconnects by itself, forever,
	// so a restart would not bring NB back sooner, and a controller that
	// cannot reach NB at start exits, which would turn an outage into a
	// crash loop. The verdict is NorthboundMonitor's, as every reconciler
	// reads it, so that a probe neither adds an echo of its own nor
	// reports an outage the reconcilers do not yet act on. Only the leader
	// runs the monitor, and only it passes the bootstrap check below.
	if err := mgr.AddReadyzCheck("northbound", func(*http.Request) error {
		if network.northbound.down.Load() {
			return errors.New("northbound database not connected")
		}
		return nil
	}); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("bootstrap", func(*http.Request) error {
		if !network.Ready() {
			return errors.New("allocations not rebuilt yet")
		}
		return nil
	}); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// startCache makes the manager, with its cache's indexes, and starts the
// cache's informers.
func startCache(ctx context.Context, cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	early := &earlyCache{}
	mgr, err := newManager(cfg, opts, early)
	if err != nil {
		return nil, err
	}
	if err := addIndexes(mgr); err != nil {
		return nil, err
	}
	return mgr, early.start(ctx)
}

// pendingNorthbound is a connection to NB being made, snapshot included.
type pendingNorthbound chan northboundResult

// northboundResult is what connecting to NB gave, and how long it took.
type northboundResult struct {
	nb   *ovn.Client
	err  error
	took time.Duration
}

// connectNorthbound starts connecting to NB.
func connectNorthbound(ctx context.Context, cfg ovn.Config) pendingNorthbound {
	pending := make(pendingNorthbound, 1)
	go func() {
		start := time.Now()
		nb, err := ovn.Connect(ctx, cfg)
		pending <- northboundResult{nb: nb, err: err, took: time.Since(start)}
	}()
	return pending
}

// wait returns the connection once its snapshot is loaded.
func (p pendingNorthbound) wait(logger logr.Logger) (*ovn.Client, error) {
	r := <-p
	if r.err == nil {
		logger.Info("northbound snapshot loaded", "took", r.took.Round(time.Millisecond).String())
	}
	return r.nb, r.err
}

// discard closes the connection once made; Run's context, ended by then,
// cuts the attempt short.
func (p pendingNorthbound) discard() {
	go func() {
		if r := <-p; r.nb != nil {
			r.nb.Close()
		}
	}()
}

// northboundTLS is the TLS configuration of the NB endpoints, nil when
// they are not ssl:; files that do not fit the endpoints are an error.
func northboundTLS(opts Options) (*tls.Config, error) {
	if err := ovntls.CheckRemotes("northbound database", opts.NorthboundEndpoints, opts.NorthboundTLS); err != nil {
		return nil, err
	}
	if !opts.NorthboundTLS.Enabled() {
		if opts.NorthboundServerName != "" {
			return nil, fmt.Errorf("northbound database: a TLS server name (%s) needs ssl: remotes", opts.NorthboundServerName)
		}
		return nil, nil
	}
	cfg, err := ovntls.ClientConfig(opts.NorthboundTLS, opts.NorthboundServerName)
	if err != nil {
		return nil, fmt.Errorf("northbound database: %w", err)
	}
	return cfg, nil
}

// The leader election Lease: client-go's LeaseLock reads, creates and
// updates it. kube-system stands for the controller's own namespace: the
// chart puts this Role in the release namespace.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=kube-system

func newManager(cfg *rest.Config, opts Options, early *earlyCache) (ctrl.Manager, error) {
	lease := opts.LeaseDuration
	if lease <= 0 {
		lease = 15 * time.Second
	}
	renew := lease * 2 / 3
	retry := lease / 5
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: Scheme(),
		// Every controller's reconciles get loggers made from this one,
		// with values deferred until a line is written (withLazyValues).
		Logger:                        withLazyValues(opts.Logger),
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &lease,
		RenewDeadline:                 &renew,
		RetryPeriod:                   &retry,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsAddr},
		// Nothing reads managedFields; dropping them shrinks every cached pod
		// and every deep copy made of it.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields(),
			NewInformer: newInformer,
			// Only the gateway heartbeats, not every kubelet's node Lease.
			ByObject: map[client.Object]cache.ByObject{&coordinationv1.Lease{}: {
				Namespaces: map[string]cache.Config{opts.Network.GatewayLeaseNamespace: {}}}}},
		NewCache:               early.new,
		HealthProbeBindAddress: opts.ProbeAddr,
		// Runnables (the bootstrap, the monitors) get a context of this, not
		// of Run's: without the logger in it their lines would go to the
		// process-wide default, which a controller run in a test's process
		// does not set.
		BaseContext: func() context.Context { return log.IntoContext(context.Background(), opts.Logger) },
		// Name validation guards against two controllers of one name in a
		// process; tests run a controller again in the same process after
		// stopping the first.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	return mgr, mgr.AddHealthzCheck("ping", healthz.Ping)
}

// addIndexes registers the cache's field indexes, before its informers start.
func addIndexes(mgr ctrl.Manager) error {
	indexes := []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&ovnetv1.Subnet{}, subnetNamespacesField, indexSubnetNamespaces},
		{&discoveryv1.EndpointSlice{}, sliceServiceField, indexSliceService},
		{&networkingv1.NetworkPolicy{}, policyCrossNamespaceField, indexPolicyCrossNamespace},
	}
	for _, ix := range indexes {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), ix.obj, ix.field, ix.fn); err != nil {
			return fmt.Errorf("index %T by %s: %w", ix.obj, ix.field, err)
		}
	}
	return nil
}

// wire registers the reconcilers and the bootstrap with the manager.
func wire(mgr ctrl.Manager, network *Network, reg prometheus.Registerer) error {
	c := mgr.GetClient()
	rec := mgr.GetEventRecorder("ovnet-controller")
	subnets := NewSubnetReconciler(c, network, rec)
	policyPods, err := newCachedPolicyPods(context.Background(), mgr.GetCache())
	if err != nil {
		return err
	}
	peers := newPeerSets(c, network.NB, policyPods)
	groups := newPortGroupLocks()
	gc := &GarbageCollector{Client: c, Network: network, Subnets: subnets, PeerSets: peers}
	records, err := newAnnotator(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return err
	}
	pods := &PodReconciler{Client: c, Annotator: records, Network: network, Recorder: rec, Subnets: subnets,
		Metrics: NewMetrics(reg, network.IPAM, mgr.GetCache())}
	for _, setup := range []func(ctrl.Manager) error{
		subnets.SetupWithManager,
		(&NamespaceReconciler{Client: c, Network: network, Recorder: rec}).SetupWithManager,
		pods.SetupWithManager,
		(&NodeReconciler{Client: c, Annotator: records, Network: network, Recorder: rec, Subnets: subnets}).SetupWithManager,
		(&ServiceReconciler{Client: c, Network: network, Recorder: rec}).SetupWithManager,
		(&NetworkPolicyReconciler{Client: c, Network: network, Recorder: rec, Sets: peers, Groups: groups, Pods: policyPods}).SetupWithManager,
		(&PodPolicyReconciler{Client: c, Network: network, Sets: peers, Groups: groups}).SetupWithManager,
		(&IsolationReconciler{Client: c, Network: network, Recorder: rec, Groups: groups, Pods: policyPods}).SetupWithManager,
	} {
		if err := setup(mgr); err != nil {
			return fmt.Errorf("set up reconciler: %w", err)
		}
	}
	if err := mgr.Add(&Bootstrap{Client: c, Network: network, Collector: gc}); err != nil {
		return err
	}
	if err := mgr.Add(&NorthboundMonitor{Client: c, Network: network}); err != nil {
		return err
	}
	return mgr.Add(NewRebuilder(c, network, reg))
}
