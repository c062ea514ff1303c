package speaker

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ovnet/ovnet/pkg/controller"
)

// Options are what ovnet-speaker is started with.
type Options struct {
	// Config holds the peers.
	Config *Config
	// NodeName is the node the speaker runs on.
	NodeName string
	// NodeIP is the node's address: router ID and next hop.
	NodeIP netip.Addr
	REST   *rest.Config
	Logger logr.Logger
	// MetricsAddr and ProbeAddr are the HTTP endpoints ("0" disables).
	MetricsAddr, ProbeAddr string
}

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
	})
	if err != nil {
		return fmt.Errorf("speaker manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("speaker health check: %w", err)
	}
	announcer, err := StartAnnouncer(ctx, opts.Config, opts.NodeIP, opts.Logger.WithName("bgp"))
	if err != nil {
		return err
	}
	// A fresh context: the one given has ended by the time Stop runs.
	defer announcer.Stop(context.Background())
	r := &Reconciler{Node: opts.NodeName, Cache: mgr.GetCache(), Announcer: announcer,
		Recorder: mgr.GetEventRecorder("ovnet-speaker")}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("speaker reconciler: %w", err)
	}
	opts.Logger.Info("speaker", "node", opts.NodeName, "address", opts.NodeIP, "peers", len(opts.Config.Peers))
	return mgr.Start(ctx)
}
