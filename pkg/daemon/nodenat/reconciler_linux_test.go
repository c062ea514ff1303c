package nodenat_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ovnet/ovnet/pkg/annotation"
	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/daemon/nodenat"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// TestReconcilerFollowsObjects runs the reconciler against a real API
// server and a table in a fresh namespace: the table follows Subnets,
// NodePort Services and EndpointSlices as they change.
func TestReconcilerFollowsObjects(t *testing.T) {
	ns := nodenat.NewTestNS(t, "r")
	api := harness.StartAPIServer(t, harness.APIServerOptions{})
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(ovnetv1.AddToScheme(scheme))
	c, err := client.New(api.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	create := func(obj client.Object) {
		t.Helper()
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
	join := annotation.Address{Holding: annotation.Holding{IP: netip.MustParseAddr("100.64.0.2"),
		IPv6: netip.MustParseAddr("fd00:100:64::2"), MAC: net.HardwareAddr{0, 0, 0, 0, 0, 2}, LogicalSwitch: "join"},
		Subnet: netip.MustParsePrefix("100.64.0.0/16"), Gateway: netip.MustParseAddr("100.64.0.1"),
		IPv6Subnet: netip.MustParsePrefix("fd00:100:64::/112"), IPv6Gateway: netip.MustParseAddr("fd00:100:64::1")}
	create(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: join.Annotations()}})
	create(&ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "join"}, Spec: ovnetv1.SubnetSpec{CIDR: "100.64.0.0/16"}})
	nat := &ovnetv1.Subnet{ObjectMeta: metav1.ObjectMeta{Name: "ovn-default"}, Spec: ovnetv1.SubnetSpec{CIDR: "10.16.0.0/16"}}
	create(nat)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080}}}}
	create(svc)
	local := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "local"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30081}}}}
	create(local)
	dual := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "dual"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyRequireDualStack),
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30083}}}}
	create(dual)
	create(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "local-1",
		Labels: map[string]string{discoveryv1.LabelServiceName: "local"}}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.16.0.5"}, NodeName: ptr.To("n1")},
			{Addresses: []string{"10.16.0.7"}, NodeName: ptr.To("n2")}}})

	startReconciler(t, api, scheme, ns.FD())
	expect := func(what string, present, absent []string) {
		t.Helper()
		wait.For(t, 20*time.Second, what, func() error {
			lines := strings.Join(slices.Concat(nodenat.DumpTable(t, ns, nodenat.TableName),
				nodenat.DumpTableFamily(t, ns, nodenat.TableName, nodenat.IPv6)), "\n")
			for _, p := range present {
				if !strings.Contains(lines, p) {
					return fmt.Errorf("no %q in\n%s", p, lines)
				}
			}
			for _, a := range absent {
				if strings.Contains(lines, a) {
					return fmt.Errorf("%q still in\n%s", a, lines)
				}
			}
			return nil
		})
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(svc), svc); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(dual), dual); err != nil {
		t.Fatal(err)
	}
	cluster := "node port tcp/30080 default/web:http -> cluster " + svc.Spec.ClusterIP + ":80"
	var dualTargets []string
	for _, ip := range dual.Spec.ClusterIPs {
		dualTargets = append(dualTargets, "node port tcp/30083 default/dual:http -> cluster "+
			netip.AddrPortFrom(netip.MustParseAddr(ip), 80).String())
	}
	if len(dualTargets) != 2 {
		t.Fatalf("dual-stack Service got cluster IPs %v, want two", dual.Spec.ClusterIPs)
	}
	expect("tables converged from the objects", append([]string{cluster,
		"node port tcp/30081 default/local:http -> local 10.16.0.5:8080", "element nat-subnets 0a100000"}, dualTargets...),
		[]string{"10.16.0.7", "element nat-subnets 64400000"})

	// Another node's InternalIP, set later as a kubelet does, and changed.
	peer := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}
	create(peer)
	for _, ip := range []string{"172.18.0.2", "172.18.0.3"} {
		peer.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
		if err := c.Status().Update(ctx, peer); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("element peer-nodes %x", netip.MustParseAddr(ip).AsSlice())
		expect("the other node's InternalIP "+ip, []string{want}, nil)
	}
	expect("the old address gone", nil, []string{"element peer-nodes ac120002"})

	nat.Spec.NATOutgoing = ptr.To(false)
	if err := c.Update(ctx, nat); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, svc); err != nil {
		t.Fatal(err)
	}
	expect("NAT off and the Service gone", []string{"node port tcp/30081"}, []string{cluster, "element nat-subnets"})
}

// startReconciler runs the reconciler in a manager until the test ends.
func startReconciler(t *testing.T, api *harness.APIServer, scheme *runtime.Scheme, nsFD int) {
	mgr, err := ctrl.NewManager(api.Config, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	r := &nodenat.Reconciler{NodeName: "n1", Cache: mgr.GetCache(), Tables: []nodenat.Converger{
		nodenat.NewTable(nsFD, "ovn0", nodenat.IPv4), nodenat.NewTable(nsFD, "ovn0", nodenat.IPv6)},
		ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix(harness.DefaultServiceCIDR), netip.MustParsePrefix(harness.DefaultServiceCIDRv6)}}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}
