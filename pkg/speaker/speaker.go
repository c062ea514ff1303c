package speaker

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ovnet/ovnet/pkg/controller"
	"github.com/ovnet/ovnet/pkg/kubecache"
)

// Options are what ovnet-speaker is started with.
type Options struct {
	// Config holds the peers.
	Config *Config
	// NodeName is the node the speaker runs on.
	NodeName string
	// NextHops are the node's addresses: its IPv4 one is also the router
	// ID.
	NextHops NextHops
	// SessionWarningAfter is how long a session may stay down before a
	// Warning Event on the node (DefaultSessionWarningAfter when zero).
	SessionWarningAfter time.Duration
	REST                *rest.Config
	Logger              logr.Logger
	// MetricsAddr and ProbeAddr are the HTTP endpoints ("0" disables).
	MetricsAddr, ProbeAddr string
}

// healthTimeout bounds /healthz's question to GoBGP, which answers from
// memory at once unless its server is stuck.
const healthTimeout = 5 * time.Second

// Run announces until ctx ends, then leaves the sessions (see
// Announcer.Stop).
func Run(ctx context.Context, opts Options) error {
	if opts.NodeName == "" {
		return fmt.Errorf("speaker: no node name")
	}
	mgr, err := ctrl.NewManager(opts.REST, ctrl.Options{
		Scheme:                 controller.Scheme(),
		Logger:                 opts.Logger,
		Metrics:                metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress: opts.ProbeAddr,
		Cache: cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			// Only the node's own pods: a pod is announced by its node.
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", opts.NodeName)},
			},
		},
		NewCache: kubecache.New,
	})
	if err != nil {
		return fmt.Errorf("speaker manager: %w", err)
	}
	announcer, err := StartAnnouncer(ctx, opts.Config, opts.NextHops, opts.Logger.WithName("bgp"))
	if err != nil {
		return err
	}
	// A fresh context: the one given has ended by the time Stop runs.
	defer announcer.Stop(context.Background())
	// Alive while GoBGP's server answers; a session down is not a reason
	// to restart the speaker.
	if err := mgr.AddHealthzCheck("bgp", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), healthTimeout)
		defer cancel()
		_, err := announcer.Peers(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("speaker health check: %w", err)
	}
	recorder := mgr.GetEventRecorder("ovnet-speaker")
	warnAfter := opts.SessionWarningAfter
	if warnAfter == 0 {
		warnAfter = DefaultSessionWarningAfter
	}
	hint := func(p Peer) string { return diagnose(opts.Config, p, opts.NextHops.IPv4, routeGateway(p.Address)) }
	monitor := newSessionMonitor(opts.Config.Peers, announcer.Peers, hint, warnAfter, recorder, opts.NodeName,
		opts.Logger.WithName("sessions"))
	if err := mgr.Add(monitor); err != nil {
		return fmt.Errorf("speaker session monitor: %w", err)
	}
	if err := ctrlmetrics.Registry.Register(&collector{sessions: monitor, announcer: announcer}); err != nil {
		return fmt.Errorf("speaker metrics: %w", err)
	}
	r := &Reconciler{Node: opts.NodeName, IPv6: opts.NextHops.IPv6.IsValid(), Cache: mgr.GetCache(), Announcer: announcer,
		Recorder: recorder}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("speaker reconciler: %w", err)
	}
	opts.Logger.Info("speaker", "node", opts.NodeName, "nextHops", opts.NextHops, "peers", len(opts.Config.Peers))
	return mgr.Start(ctx)
}
