package perf

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
	"github.com/ovnet/ovnet/test/harness/wait"
)

const (
	// serviceNamespace holds the benchmark's Services.
	serviceNamespace = "default"
	// endpointsPerService is the size of each Service's EndpointSlice.
	endpointsPerService = 3
	// changeRepeats is how many endpoint changes are timed at each size;
	// the median is reported.
	changeRepeats = 9
	// changePoll is the resolution of the endpoint change wait: the
	// latency measured is a few milliseconds. One poll reads one row
	// through the view's name index, whatever the number of Services.
	changePoll = time.Millisecond
)

// BenchmarkServiceProgramming creates 1000 Services, each with an
// EndpointSlice of 3 ready endpoints, and times the start of creation until
// NB holds every load balancer with its 3 backends. The baseline is the
// time the same client takes to create the objects.
func BenchmarkServiceProgramming(b *testing.B) {
	const n = 1000
	cl := startCluster(b)
	ctrl := harness.StartController(b, cl.api, cl.nb, benchNetwork())
	txBefore := ctrl.NBTransactions(b)
	cl.view.ResetChanges()
	start := time.Now()
	createServices(b, cl, 0, n)
	created := time.Since(start)
	programmed := waitServiceLBs(b, cl.view, n).Sub(start)
	b.StopTimer()
	tx, rows := ctrl.NBTransactions(b)-txBefore, cl.view.Changes()
	b.ReportMetric(programmed.Seconds(), "programmed-s")
	b.ReportMetric(created.Seconds(), "baseline-created-s")
	b.ReportMetric((programmed - created).Seconds(), "after-created-s")
	b.ReportMetric(float64(tx), "nb-transactions")
	b.ReportMetric(float64(rows), "nb-row-changes")
	b.Logf("%d services x %d endpoints: created by the client in %.2fs (baseline), all load balancers with backends in NB after %.2fs "+
		"(%.2fs after the last was created); %d NB transactions, %d NB row changes",
		n, endpointsPerService, created.Seconds(), programmed.Seconds(), (programmed - created).Seconds(), tx, rows)
}

// BenchmarkServiceEndpointChange times one endpoint change, from the
// EndpointSlice update until NB shows the new backend, with 100 Services
// and then, in the same cluster and controller, with 1000. The ratio of the
// medians shows whether the cost grows with the number of Services.
func BenchmarkServiceEndpointChange(b *testing.B) {
	cl := startCluster(b)
	ctrl := harness.StartController(b, cl.api, cl.nb, benchNetwork())
	medians := map[int]time.Duration{}
	present := 0
	for _, n := range []int{100, 1000} {
		createServices(b, cl, present, n)
		waitServiceLBs(b, cl.view, n)
		present = n
		latencies, tx, rows := measureChanges(b, cl, ctrl, n)
		medians[n] = median(latencies)
		b.ReportMetric(medians[n].Seconds()*1000, fmt.Sprintf("ms-at-%d", n))
		b.Logf("%4d services: endpoint change visible in NB after median %.1f ms (all: %s); %.1f NB transactions and %.1f NB row changes per change",
			n, ms(medians[n]), formatDurations(latencies), float64(tx)/changeRepeats, float64(rows)/changeRepeats)
	}
	ratio := float64(medians[1000]) / float64(medians[100])
	b.ReportMetric(ratio, "ratio-1000/100")
	b.Logf("ratio of medians 1000/100 services: %.2f (target <= 1.2)", ratio)
}

// measureChanges changes one endpoint of a different Service each time,
// and returns the latencies and the NB transactions and row changes they
// caused.
func measureChanges(b *testing.B, cl *cluster, ctrl *harness.Controller, n int) ([]time.Duration, uint64, int64) {
	b.Helper()
	time.Sleep(time.Second)               // let the set-up's last writes land before counting
	changeEndpoint(b, cl, 0, "10.31.0.1") // a warm-up, not measured
	txBefore := ctrl.NBTransactions(b)
	cl.view.ResetChanges()
	var latencies []time.Duration
	for r := range changeRepeats {
		i := (r*n)/changeRepeats + n/(2*changeRepeats)
		newIP := fmt.Sprintf("10.30.%d.%d", r, 1+i%250)
		latencies = append(latencies, changeEndpoint(b, cl, i, newIP))
	}
	return latencies, ctrl.NBTransactions(b) - txBefore, cl.view.Changes()
}

// changeEndpoint replaces the first endpoint of Service i with newIP and
// returns the time from the update until NB lists it.
func changeEndpoint(b *testing.B, cl *cluster, i int, newIP string) time.Duration {
	b.Helper()
	slice := &discoveryv1.EndpointSlice{}
	if err := cl.c.Get(context.Background(), client.ObjectKey{Namespace: serviceNamespace, Name: serviceName(i)}, slice); err != nil {
		b.Fatal(err)
	}
	slice.Endpoints[0].Addresses = []string{newIP}
	lb := ovnname.ServiceLoadBalancer(serviceNamespace, serviceName(i), nbdb.LoadBalancerProtocolTCP)
	start := time.Now()
	if err := cl.c.Update(context.Background(), slice); err != nil {
		b.Fatal(err)
	}
	return waitBackend(b, cl.view, lb, newIP+":8080").Sub(start)
}

func serviceName(i int) string { return fmt.Sprintf("s-%d", i) }

// createServices creates Services from..to-1 with their EndpointSlices,
// with benchWorkers concurrent clients.
func createServices(b *testing.B, cl *cluster, from, to int) {
	b.Helper()
	keys := make([]podKey, to-from)
	for i := range keys {
		keys[i] = podKey{namespace: serviceNamespace, name: serviceName(from + i)}
	}
	err := forEach(keys, func(i int, k podKey) error {
		return createService(context.Background(), cl.c, from+i, k.name)
	})
	if err != nil {
		b.Fatal(err)
	}
}

func createService(ctx context.Context, c client.Client, i int, name string) error {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: serviceNamespace, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80,
			TargetPort: intstr.FromInt32(8080)}}}}
	if err := c.Create(ctx, svc); err != nil {
		return fmt.Errorf("create service %s: %w", name, err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: serviceNamespace, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](8080)}},
	}
	for e := range endpointsPerService {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{fmt.Sprintf("10.%d.%d.%d", 20+e, i/250, 1+i%250)}})
	}
	if err := c.Create(ctx, slice); err != nil {
		return fmt.Errorf("create endpoint slice %s: %w", name, err)
	}
	return nil
}

// waitServiceLBs waits until NB holds n Service load balancers whose every
// VIP has all its backends, and returns when that was first seen.
func waitServiceLBs(b *testing.B, view *harness.NBView, n int) time.Time {
	b.Helper()
	converge.For(b, convergeTimeout, fmt.Sprintf("%d service load balancers programmed", n), func() error {
		done := len(harness.List(b, view, func(lb *nbdb.LoadBalancer) bool {
			owner, ok := ovn.OwnerOf(lb.ExternalIDs)
			return ok && owner.Kind == ovn.KindService && lbComplete(lb)
		}))
		if done < n {
			return fmt.Errorf("%d programmed", done)
		}
		return nil
	})
	return time.Now()
}

func lbComplete(lb *nbdb.LoadBalancer) bool {
	if len(lb.Vips) == 0 {
		return false
	}
	for _, backends := range lb.Vips {
		if strings.Count(backends, ",") != endpointsPerService-1 {
			return false
		}
	}
	return true
}

// waitBackend waits until the load balancer lists backend and returns
// when that was first seen.
func waitBackend(b *testing.B, view *harness.NBView, name, backend string) time.Time {
	b.Helper()
	wait.Every(changePoll).For(b, convergeTimeout, "load balancer "+name+" lists "+backend, func() error {
		lb := view.LoadBalancer(b, name)
		if lb == nil {
			return fmt.Errorf("no load balancer %s", name)
		}
		for _, backends := range lb.Vips {
			if slices.Contains(strings.Split(backends, ","), backend) {
				return nil
			}
		}
		return fmt.Errorf("VIPs %v", lb.Vips)
	})
	return time.Now()
}

func median(ds []time.Duration) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func formatDurations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.1f", ms(d))
	}
	return strings.Join(parts, " ") + " ms"
}
