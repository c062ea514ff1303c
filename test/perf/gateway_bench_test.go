package perf

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/gatewayhealth"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

const (
	// gatewayPods is the gateway variant's cluster size: CI runs every
	// benchmark once, and N=1000 already shows the per-pod cost.
	gatewayPods = 1000
	// gatewayNodeName is the node the centralized namespaces leave through.
	gatewayNodeName = "bench-gw"
	// centralizedMatch starts the reroute of a centralized subnet's egress
	// (controller's priorityCentralized policy).
	centralizedMatch = "ip4.src == "
)

// BenchmarkControllerThroughputGateways is BenchmarkControllerThroughput
// with gateways in force on every namespace: the even ones centralized on
// a gateway node whose heartbeat Lease the benchmark renews as its daemon
// would, the odd ones distributed with NAT off. The baseline is the same
// as without gateways: the API server alone taking the same writes.
func BenchmarkControllerThroughputGateways(b *testing.B) {
	baseline := measureBaseline(b, gatewayPods)
	ctrl := measureController(b, gatewayPods, gatewaySubnets)
	b.StopTimer()
	reportThroughput(b, gatewayPods, ctrl, baseline)
}

// egressSetup is how the benchmark's namespaces send traffic out of the
// cluster.
type egressSetup struct {
	// gateways makes the even namespaces centralized on gatewayNodeName and
	// the odd ones distributed without NAT; otherwise every namespace has
	// the default (distributed, NAT) and only a CIDR.
	gateways bool
}

var (
	plainSubnets   = egressSetup{}
	gatewaySubnets = egressSetup{gateways: true}
)

// centralized says whether the gateway variant's i-th namespace is
// centralized; the others are distributed without NAT.
func centralized(i int) bool { return i%2 == 0 }

// prepare readies what the namespaces' egress needs (the gateway node, its
// join address and heartbeat) and returns their annotations.
func (e egressSetup) prepare(b *testing.B, cl *cluster) namespaceAnnotations {
	b.Helper()
	if !e.gateways {
		return cidrOnly
	}
	registerGateway(b, cl, gatewayNodeName)
	return func(i int) map[string]string {
		a := cidrOnly(i)
		if centralized(i) {
			a[annotation.GatewayType], a[annotation.GatewayNode] = string(ovnetv1.GatewayCentralized), gatewayNodeName
		} else {
			a[annotation.GatewayType], a[annotation.GatewayNAT] = string(ovnetv1.GatewayDistributed), "false"
		}
		return a
	}
}

// wait returns once the namespaces' egress is in force: each Subnet's
// GatewayReady is true, each centralized one names the gateway node, and
// NB holds the centralized subnets' reroutes.
func (e egressSetup) wait(b *testing.B, cl *cluster, namespaces []string) {
	b.Helper()
	if !e.gateways {
		return
	}
	reroutesWanted := 0
	for i := range namespaces {
		if centralized(i) {
			reroutesWanted++
		}
	}
	converge.For(b, convergeTimeout, "gateways in force", func() error {
		for i, name := range namespaces {
			s := &ovnetv1.Subnet{}
			if err := cl.c.Get(context.Background(), client.ObjectKey{Name: name}, s); err != nil {
				return err
			}
			if !meta.IsStatusConditionTrue(s.Status.Conditions, ovnetv1.ConditionGatewayReady) {
				return fmt.Errorf("subnet %s: GatewayReady not true: %+v", name, s.Status.Conditions)
			}
			want := "" // a distributed subnet names no gateway
			if centralized(i) {
				want = gatewayNodeName
			}
			if s.Status.ActiveGateway != want {
				return fmt.Errorf("subnet %s: activeGateway %q, want %q", name, s.Status.ActiveGateway, want)
			}
		}
		reroutes := harness.List(b, cl.view, func(p *nbdb.LogicalRouterPolicy) bool {
			return p.Action == nbdb.LogicalRouterPolicyActionReroute && strings.HasPrefix(p.Match, centralizedMatch)
		})
		if len(reroutes) != reroutesWanted {
			return fmt.Errorf("%d centralized reroutes in NB, want %d", len(reroutes), reroutesWanted)
		}
		return nil
	})
}

// registerGateway creates a Node with an InternalIP, as a kubelet would,
// waits for the controller to give it a join address, and renews its
// gateway heartbeat as ready until the benchmark ends, as its daemon
// would: the controller's egress decisions see a live gateway node.
func registerGateway(b *testing.B, cl *cluster, name string) {
	b.Helper()
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := cl.c.Create(ctx, node); err != nil {
		b.Fatalf("create node %s: %v", name, err)
	}
	patch := client.MergeFrom(node.DeepCopy())
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: harness.UnderlayAddr(1).Addr().String()}}
	if err := cl.c.Status().Patch(ctx, node, patch); err != nil {
		b.Fatalf("addresses of node %s: %v", name, err)
	}
	converge.For(b, convergeTimeout, "join address of "+name, func() error {
		if err := cl.c.Get(ctx, client.ObjectKeyFromObject(node), node); err != nil {
			return err
		}
		if node.Annotations[annotation.IPAddress] == "" {
			return fmt.Errorf("not addressed")
		}
		return nil
	})
	harness.StartHeartbeats(b, cl.c).Set(name, &gatewayhealth.Report{Ready: true})
}
