package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/ovnet/ovnet/pkg/daemon/ipfixmediator"
	"github.com/ovnet/ovnet/pkg/daemon/nodesetup"
	"github.com/ovnet/ovnet/pkg/daemon/nslink"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// mediatorRetry is how long the mediator waits before it tries its port
// again when someone else holds it: long enough not to flood the log and
// the Node's Events, short enough that freeing the port soon shows.
const mediatorRetry = 10 * time.Second

// Event reasons of the IPFIX mediator, on the daemon's Node.
const (
	ReasonIPFIXMediatorFailed    = "IPFIXMediatorFailed"
	ReasonIPFIXMediatorListening = "IPFIXMediatorListening"
)

// flowMediator runs the IPFIX mediator (pkg/daemon/ipfixmediator) once
// it holds its port: only then does br-int's IPFIX row point at it, so
// that records never go to whoever else holds the port.
type flowMediator struct {
	cfg Config
	ovs *ovs.Client
	// netns is the node's namespace: ovs-vswitchd's loopback, and the
	// routes to the collectors.
	netns *nslink.Namespace
	// pods is the cache of every pod of the cluster, slimmed to what
	// names an address; index is fed by it.
	pods  cache.Cache
	index *ipfixmediator.PodIndex
	// recorder reports on the Node when the port cannot be had.
	recorder events.EventRecorder
	log      logr.Logger
}

// Start holds the port (retrying while someone else does), waits for
// every pod to be known, points br-int's exporter at the mediator and
// mediates until ctx ends.
func (f *flowMediator) Start(ctx context.Context) error {
	informer, err := f.pods.GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("IPFIX mediator: pod informer: %w", err)
	}
	if _, err := informer.AddEventHandler(f.index.Handler()); err != nil {
		return fmt.Errorf("IPFIX mediator: pod informer handler: %w", err)
	}
	collectors := make([]netip.AddrPort, 0, len(f.cfg.IPFIX.Targets))
	for _, t := range f.cfg.IPFIX.Targets {
		// Checked at start (CheckFlowExport).
		collectors = append(collectors, netip.MustParseAddrPort(t))
	}
	listen := f.cfg.ipfixMediatorAddr()
	m := ipfixmediator.New(ipfixmediator.Config{Listen: listen, Collectors: collectors, Pods: f.index,
		InNetNS: f.netns.Run, Logger: f.log})
	if !f.open(ctx, m) {
		return nil
	}
	if !f.pods.WaitForCacheSync(ctx) {
		return nil
	}
	// The daemon's node set-up removed its own row (nodesetup has no
	// targets while the mediator runs), and a new row makes ovs-vswitchd
	// send its templates afresh: without them the mediator could decode
	// nothing until its resend, up to 10 minutes later.
	row := f.cfg.IPFIX
	row.Targets = []string{listen.String()}
	row.ExternalIDs = map[string]string{nodesetup.OwnerKey: nodesetup.OwnerDaemon}
	if err := f.ovs.SetIPFIX(ctx, f.cfg.Bridge, row); err != nil {
		return fmt.Errorf("IPFIX mediator: %w", err)
	}
	f.log.Info("IPFIX mediator", "listen", listen, "collectors", f.cfg.IPFIX.Targets, "enterpriseNumber", ipfixmediator.EnterpriseNumber)
	return m.Serve(ctx)
}

// open binds the mediator's port, trying again every mediatorRetry while
// it cannot, with an Event on the Node for each new reason and one once
// it can; false when ctx ended first.
func (f *flowMediator) open(ctx context.Context, m *ipfixmediator.Mediator) bool {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: f.cfg.NodeName}}
	var last string
	for {
		err := m.Open()
		if err == nil {
			if last != "" {
				f.recorder.Eventf(node, nil, corev1.EventTypeNormal, ReasonIPFIXMediatorListening, "ListenIPFIX",
					"IPFIX mediator listening on %s; flow records are exported with pod names again", f.cfg.ipfixMediatorAddr())
			}
			return true
		}
		if err.Error() != last {
			last = err.Error()
			f.log.Error(err, "IPFIX mediator cannot start; no IPFIX export until it can", "retry", mediatorRetry)
			f.recorder.Eventf(node, nil, corev1.EventTypeWarning, ReasonIPFIXMediatorFailed, "ListenIPFIX",
				"%v (--ipfix-mediator-port, chart value flowExport.ipfix.mediatorPort): no IPFIX export from this node until the port is free; retrying every %s", err, mediatorRetry)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(mediatorRetry):
		}
	}
}
