package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
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
	"github.com/ovnet/ovnet/pkg/daemon/bridgemap"
	"github.com/ovnet/ovnet/pkg/daemon/cniserver"
	"github.com/ovnet/ovnet/pkg/daemon/heartbeat"
	"github.com/ovnet/ovnet/pkg/daemon/ipfixmediator"
	"github.com/ovnet/ovnet/pkg/daemon/nodenat"
	"github.com/ovnet/ovnet/pkg/daemon/nodesetup"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
	"github.com/ovnet/ovnet/pkg/daemon/podrecord"
	"github.com/ovnet/ovnet/pkg/daemon/uninstall"
	"github.com/ovnet/ovnet/pkg/kubecache"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// apiCheckTimeout bounds STATUS's probe of the API server.
const apiCheckTimeout = 3 * time.Second

// departureTimeout bounds the decision and the clean-up on exit; the
// chart's terminationGracePeriodSeconds (60) leaves room for it.
const departureTimeout = 45 * time.Second

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

// Daemon is one node's agent: it wires the node set-up, the pod
// configurator and the CNI server together with the informers.
type Daemon struct {
	cfg Config
	log logr.Logger
	// mgr runs the informers (this node's pods, the node, Subnets) and
	// the reconcilers.
	mgr ctrl.Manager
	// pods holds the controller's records of this node's pods for ADD.
	pods *podrecord.Book
	// api probes the API server for STATUS.
	api kubernetes.Interface
	// registerer receives the OVS client's and the CNI server's metrics.
	registerer prometheus.Registerer
	// departure decides on exit whether the node leaves ovnet.
	departure *uninstall.Departure
	// everyPod is the cache of every pod of the cluster the IPFIX
	// mediator names addresses by; nil while it is off.
	everyPod cache.Cache
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
	byObject := map[client.Object]cache.ByObject{
		&corev1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName)},
		// Every Node: the NAT table masquerades node-port traffic
		// from the other nodes' InternalIPs. Without their image
		// lists, the bulk of a Node.
		&corev1.Node{}: {Transform: slimNode},
	}
	if cfg.PodName != "" {
		// The DaemonSets of the daemon's namespace, for the departure
		// decision: only there may it watch them.
		byObject[&appsv1.DaemonSet{}] = cache.ByObject{Namespaces: map[string]cache.Config{cfg.PodNamespace: {}}}
	}
	mgr, err := ctrl.NewManager(opts.REST, ctrl.Options{
		Scheme:                 scheme(),
		Logger:                 opts.Logger,
		Metrics:                metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress: opts.ProbeAddr,
		Cache: cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject:         byObject,
		},
		// Serving CNI waits for the caches: without polling, as soon as
		// they have synced.
		NewCache: kubecache.New,
	})
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	api, err := kubernetes.NewForConfig(opts.REST)
	if err != nil {
		return nil, fmt.Errorf("clientset: %w", err)
	}
	departure := uninstall.NewDeparture(mgr.GetAPIReader(), types.NamespacedName{Namespace: cfg.PodNamespace, Name: cfg.PodName})
	d := &Daemon{cfg: cfg, log: opts.Logger, mgr: mgr, pods: podrecord.NewBook(fetchPod(api)), api: api, registerer: reg,
		departure: departure}
	if cfg.IPFIXPodNames {
		if d.everyPod, err = everyPodCache(opts.REST, mgr); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// everyPodCache is a cache of every pod of the cluster, each slimmed to
// its name, node and address record, run by mgr: the manager's own cache
// holds the node's pods only.
func everyPodCache(cfg *rest.Config, mgr ctrl.Manager) (cache.Cache, error) {
	c, err := kubecache.New(cfg, cache.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(),
		ByObject: map[client.Object]cache.ByObject{&corev1.Pod{}: {Transform: ipfixmediator.SlimPod}}})
	if err != nil {
		return nil, fmt.Errorf("cache of every pod: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, fmt.Errorf("cache of every pod: %w", err)
	}
	return c, nil
}

// parts are what Run builds once the node's namespace and OVSDB are open.
type parts struct {
	// netns is the node's network namespace.
	netns *nslink.Namespace
	ovs   *ovs.Client
	node  *nodesetup.Node
	conf  *podconfig.Configurator
	cni   *cniserver.Server
	// nat are the node's nftables tables, one per family: egress
	// masquerade, the inbound guard and NodePorts. They outlive the
	// daemon, so pods keep their egress across a restart.
	nat []*nodenat.Table
}

// Run sets the node up, starts the informers and reconcilers, installs
// the CNI plugin and serves it until ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	netns, err := nslink.Open(d.cfg.NetNS)
	if err != nil {
		return err
	}
	defer netns.Close()
	client, err := ovs.Connect(ctx, ovs.Config{Endpoint: d.cfg.OVSDB, Registerer: d.registerer, Logger: d.log})
	if err != nil {
		return err
	}
	defer client.Close()
	p, err := d.build(client, netns)
	if err != nil {
		return err
	}
	// Held until the clean-up on exit, if any, is over.
	handshake, err := uninstall.OpenHandshake(d.cfg.OVSHandshakeDir)
	if err != nil {
		return err
	}
	defer handshake.Close()
	if err := d.setUpNode(ctx, p); err != nil {
		return fmt.Errorf("node set-up: %w", err)
	}
	if err := d.addReconcilers(p); err != nil {
		return err
	}
	// The Open vSwitch container learns the daemon stops at SIGTERM, not
	// after the manager's shutdown, so its preStop does not give up first.
	ctx, stop := context.WithCancel(ctx)
	stopping := make(chan error, 1)
	go func() {
		<-ctx.Done()
		stopping <- handshake.Stopping()
	}()
	err = d.serveUntilDone(ctx, p.cni)
	stop()
	if err := <-stopping; err != nil {
		d.log.Error(err, "cannot tell the Open vSwitch container the daemon stops")
	}
	return errors.Join(err, d.departIfUninstalled(p, handshake))
}

// departIfUninstalled cleans the node when the daemon stops because its
// DaemonSet is gone (helm uninstall), and leaves it as it is on a
// restart or an update. It runs after the CNI server stopped, on a
// context of its own: the daemon's has ended.
func (d *Daemon) departIfUninstalled(p *parts, handshake *uninstall.Handshake) error {
	ctx, cancel := context.WithTimeout(context.Background(), departureTimeout)
	defer cancel()
	v, err := d.departure.Decide(ctx)
	if err != nil {
		return errors.Join(fmt.Errorf("node left as it is: %w", err), handshake.Done(false))
	}
	d.log.Info("stopping", "cleanNode", v.Leaving, "reason", v.Reason)
	if !v.Leaving {
		return handshake.Done(false)
	}
	clean := uninstall.New(uninstall.Config{Bridge: d.cfg.Bridge, CNIBinDir: d.cfg.CNIBinDir, CNIConfDir: d.cfg.CNIConfDir,
		Socket: d.cfg.Socket, OVNRundir: d.cfg.OVNRundir}, p.ovs, p.netns, d.log.WithName("uninstall"))
	_, err = clean.Clean(ctx)
	return errors.Join(err, handshake.Done(true))
}

// build makes the node set-up, the pod configurator and the CNI server.
func (d *Daemon) build(client *ovs.Client, netns *nslink.Namespace) (*parts, error) {
	uplink, haveUplink := netns.UplinkMTU()
	mtu := d.cfg.podMTU(uplink, haveUplink)
	p := &parts{netns: netns, ovs: client}
	for _, f := range nodenat.Families {
		p.nat = append(p.nat, nodenat.NewTable(int(netns.NS), nodesetup.NodePort, f))
	}
	ipfix := d.cfg.IPFIX
	if d.cfg.IPFIXPodNames {
		// The mediator writes the row once it holds its port.
		ipfix = ovs.IPFIX{}
	}
	p.node = nodesetup.New(nodesetup.Config{NodeName: d.cfg.NodeName, Bridge: d.cfg.Bridge, DatapathType: d.cfg.DatapathType,
		OVNRemote: d.cfg.OVNRemote, OVNTLS: d.cfg.OVNTLS, EncapType: d.cfg.EncapType, EncapIP: d.cfg.EncapIP,
		IPFIX: ipfix, SFlow: d.cfg.SFlow, ServiceCIDRs: d.cfg.ServiceCIDRs, MTU: mtu}, client, netns)
	p.conf = podconfig.New(podconfig.Config{Bridge: d.cfg.Bridge, DatapathType: d.cfg.DatapathType, MTU: mtu,
		UnderlayMTU: func() int { return underlayMTU(netns.UplinkMTU()) }, MirrorAll: d.cfg.EnableMirror}, client, netns)
	srv, err := cniserver.New(cniserver.Config{AddressTimeout: d.cfg.AddressTimeout, OVNTimeout: d.cfg.OVNTimeout,
		Pods: d.pods, Configurator: p.conf, Underlay: d.underlaySubnet, Status: func(ctx context.Context) error { return d.status(ctx, client) },
		NetnsDirs: d.cfg.NetnsDirs, Logger: d.log, Registerer: d.registerer})
	p.cni = srv
	d.log.Info("node agent", "node", d.cfg.NodeName, "datapath", d.cfg.DatapathType, "encap", d.cfg.EncapType, "mtu", mtu,
		"uplinkMTU", uplink, "uplink", haveUplink)
	return p, err
}

// underlaySubnet reports, from the cache, whether a Subnet is bridged to
// a physical network; one the cache does not hold (deleted since the
// pod's address was recorded) is taken for an overlay one.
func (d *Daemon) underlaySubnet(ctx context.Context, name string) (bool, error) {
	s := &ovnetv1.Subnet{}
	if err := d.mgr.GetCache().Get(ctx, client.ObjectKey{Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("subnet %s of the pod: %w", name, err)
	}
	return s.Spec.Underlay(), nil
}

// setUpNode creates br-int, the Open_vSwitch settings OVN needs and
// mirror0, brings mirror0 up and turns IPv4 forwarding on, for pods'
// egress and node ports (IPv6's waits for an IPv6 join address). All of it converges: a restart with nothing changed writes
// nothing.
func (d *Daemon) setUpNode(ctx context.Context, p *parts) error {
	if err := p.node.EnsureBridge(ctx); err != nil {
		return err
	}
	if err := p.conf.SyncMirror(ctx); err != nil {
		return err
	}
	if err := p.node.BringUp(ctx, podconfig.MirrorPort); err != nil {
		return err
	}
	changed, err := nodenat.EnableForwarding(p.netns)
	if changed {
		d.log.Info("enabled IPv4 forwarding in the node's namespace", "sysctl", nslink.IPv4Forwarding)
	}
	return err
}

// addReconcilers registers the pod, node and nftables reconcilers and the
// probes.
// The daemon's cache: the pods of its node (field selector spec.nodeName),
// every Node (its own, and the others' addresses for NodePort rules),
// Subnet and ProviderNetwork; with the IPFIX mediator, every pod of the
// cluster too (a cache of its own). Its event recorder writes events.k8s.io Events. It writes
// nothing else but its gateway heartbeat (pkg/daemon/heartbeat): pod and
// node annotations are the controller's.
// +kubebuilder:rbac:groups="",resources=pods;nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=ovnet.io,resources=subnets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

func (d *Daemon) addReconcilers(p *parts) error {
	rec := d.mgr.GetEventRecorder("ovnet-daemon")
	pods := &PodReconciler{Cache: d.mgr.GetCache(), Configurator: p.conf, Recorder: rec}
	if err := pods.SetupWithManager(d.mgr); err != nil {
		return err
	}
	if err := (&nodesetup.NodeReconciler{Node: p.node, Cache: d.mgr.GetCache()}).SetupWithManager(d.mgr); err != nil {
		return err
	}
	bridges := &bridgemap.Reconciler{NodeName: d.cfg.NodeName, Cache: d.mgr.GetCache(), OVS: p.ovs, Recorder: rec}
	if err := bridges.SetupWithManager(d.mgr); err != nil {
		return err
	}
	beat := &heartbeat.Heartbeat{Node: d.cfg.NodeName, Namespace: d.cfg.GatewayLeaseNamespace, Cache: d.mgr.GetCache(),
		Client: d.mgr.GetClient(), API: d.mgr.GetAPIReader(), Logger: d.log.WithName("heartbeat"),
		Checker: &heartbeat.Checker{NetNS: p.netns, OVNRundir: d.cfg.OVNRundir, Bridges: p.ovs}}
	if err := d.mgr.Add(beat); err != nil {
		return err
	}
	nat := &nodenat.Reconciler{NodeName: d.cfg.NodeName, Cache: d.mgr.GetCache(), ServiceCIDRs: d.cfg.ServiceCIDRs}
	for _, t := range p.nat {
		nat.Tables = append(nat.Tables, t)
	}
	if err := nat.SetupWithManager(d.mgr); err != nil {
		return err
	}
	if d.everyPod != nil {
		mediator := &flowMediator{cfg: d.cfg, ovs: p.ovs, netns: p.netns, pods: d.everyPod, index: ipfixmediator.NewPodIndex(),
			recorder: rec, log: d.log.WithName("ipfix-mediator")}
		if err := d.mgr.Add(mediator); err != nil {
			return err
		}
	}
	// /healthz says the process serves at all; /readyz follows STATUS.
	if err := d.mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return d.mgr.AddReadyzCheck("cni", func(r *http.Request) error { return d.status(r.Context(), p.ovs) })
}

// serveUntilDone runs the manager and the CNI server together.
func (d *Daemon) serveUntilDone(ctx context.Context, srv *cniserver.Server) error {
	informer, err := d.mgr.GetCache().GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	if _, err := informer.AddEventHandler(d.pods.Handler()); err != nil {
		return fmt.Errorf("pod informer handler: %w", err)
	}
	if err := d.watchDaemonSet(ctx); err != nil {
		return err
	}
	listener, err := cniserver.Listen(d.cfg.Socket)
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
	install := cniserver.Install{PluginBinary: d.cfg.PluginBinary, BinDir: d.cfg.CNIBinDir, ConfDir: d.cfg.CNIConfDir,
		Socket: d.cfg.Socket}
	if err := cniserver.InstallPlugin(install); err != nil {
		listener.Close()
		return errors.Join(err, d.stop(cancel, mgrDone))
	}
	if d.departure.Enabled() {
		// Read now, while the daemon's RBAC surely exists.
		if _, err := d.departure.Owner(ctx); err != nil {
			d.log.Error(err, "own DaemonSet unknown; asked again on exit")
		}
	}
	d.log.Info("serving CNI", "socket", d.cfg.Socket, "node", d.cfg.NodeName)
	err = srv.Serve(ctx, listener)
	return errors.Join(err, d.stop(cancel, mgrDone))
}

// watchDaemonSet feeds the departure decision the DaemonSet deletions it
// may later be unable to ask about.
func (d *Daemon) watchDaemonSet(ctx context.Context) error {
	if !d.departure.Enabled() {
		return nil
	}
	informer, err := d.mgr.GetCache().GetInformer(ctx, &appsv1.DaemonSet{})
	if err != nil {
		return fmt.Errorf("DaemonSet informer: %w", err)
	}
	if _, err := informer.AddEventHandler(d.departure.Handler()); err != nil {
		return fmt.Errorf("DaemonSet informer handler: %w", err)
	}
	return nil
}

// stop ends the manager and returns its error.
func (d *Daemon) stop(cancel context.CancelFunc, mgrDone <-chan error) error {
	cancel()
	return <-mgrDone
}

// status reports whether ADD could be served now.
func (d *Daemon) status(ctx context.Context, client *ovs.Client) error {
	if err := client.Ping(ctx); err != nil {
		return fmt.Errorf("%w: the Open_vSwitch database at %s does not answer: %v", cniserver.ErrNotReady, d.cfg.OVSDB, err)
	}
	if _, err := client.ListPorts(d.cfg.Bridge); err != nil {
		return fmt.Errorf("%w: %v", cniserver.ErrNotReady, err)
	}
	if err := d.apiReachable(ctx); err != nil {
		return fmt.Errorf("%w: the API server does not answer: %v", cniserver.ErrNotReady, err)
	}
	return nil
}

// fetchPod reads a pod from the API server for an ADD whose pod the
// informer has not delivered yet.
func fetchPod(api kubernetes.Interface) podrecord.Fetch {
	return func(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
		return api.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	}
}

// apiReachable asks the API server for /readyz.
func (d *Daemon) apiReachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, apiCheckTimeout)
	defer cancel()
	return d.api.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
}

// scheme knows the kinds the daemon reads: the built-in ones and Subnet.
func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(ovnetv1.AddToScheme(s))
	return s
}

// slimNode is the cache's transform for Nodes: no managed fields, no
// image list, which nothing in the daemon reads.
func slimNode(obj any) (any, error) {
	obj, err := cache.TransformStripManagedFields()(obj)
	if node, ok := obj.(*corev1.Node); ok && err == nil {
		node.Status.Images = nil
	}
	return obj, err
}
