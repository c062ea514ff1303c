package controller

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
	"github.com/ovnet/ovnet/pkg/ipam"
)

// gatewayListTimeout bounds the Subnet list of one scrape; it reads the
// informer cache, so it only catches a cache that has not started.
const gatewayListTimeout = 5 * time.Second

// Metrics are the controller's own Prometheus metrics.
type Metrics struct {
	addressLatency prometheus.Histogram

	mu sync.Mutex
	// addressed holds the UID of each live pod already observed, by name:
	// a reconcile that read the pod from a cache not yet holding its
	// record patches it again, and must not count it twice.
	addressed map[types.NamespacedName]types.UID
}

// NewMetrics registers the controller's metrics, including per-subnet
// usage read from the allocator and each subnet's egress gateway read from
// the Subnets' status in subnets (the cache), both at scrape time (so they
// are never stale and cost nothing per allocation or reconcile).
func NewMetrics(reg prometheus.Registerer, allocator *ipam.IPAM, subnets client.Reader) *Metrics {
	m := &Metrics{addressLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ovnet_pod_address_latency_seconds",
		Help:    "Time from a pod's creation until its address is recorded on it.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	}), addressed: map[types.NamespacedName]types.UID{}}
	reg.MustRegister(m.addressLatency, &usageCollector{ipam: allocator}, &gatewayCollector{subnets: subnets})
	return m
}

// observeAddressed counts a pod's first record, once per pod.
func (m *Metrics) observeAddressed(pod *corev1.Pod) {
	if m == nil || pod.CreationTimestamp.IsZero() {
		return
	}
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	m.mu.Lock()
	seen := m.addressed[key] == pod.UID
	m.addressed[key] = pod.UID
	m.mu.Unlock()
	if !seen {
		m.addressLatency.Observe(time.Since(pod.CreationTimestamp.Time).Seconds())
	}
}

// forgetPod drops a released pod, so a pod of the same name is counted.
func (m *Metrics) forgetPod(key types.NamespacedName) {
	if m == nil {
		return
	}
	m.mu.Lock()
	delete(m.addressed, key)
	m.mu.Unlock()
}

var (
	usedDesc = prometheus.NewDesc("ovnet_subnet_used_addresses",
		"Addresses allocated in the subnet.", []string{"subnet"}, nil)
	availableDesc = prometheus.NewDesc("ovnet_subnet_available_addresses",
		"Addresses still free in the subnet.", []string{"subnet"}, nil)
)

// usageCollector reports each subnet's usage straight from the allocator.
type usageCollector struct{ ipam *ipam.IPAM }

func (c *usageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- usedDesc
	ch <- availableDesc
}

func (c *usageCollector) Collect(ch chan<- prometheus.Metric) {
	for _, name := range c.ipam.Subnets() {
		u, ok := c.ipam.Usage(name)
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(usedDesc, prometheus.GaugeValue, float64(u.Used), name)
		ch <- prometheus.MustNewConstMetric(availableDesc, prometheus.GaugeValue, float64(u.Available), name)
	}
}

var gatewayReadyDesc = prometheus.NewDesc("ovnet_subnet_gateway_ready",
	"1 while the subnet's egress works (its GatewayReady condition), else 0; active_gateway is the node "+
		"a centralized subnet's egress leaves through, empty for distributed egress or none ready.",
	[]string{"subnet", "active_gateway"}, nil)

// gatewayCollector reports each subnet's GatewayReady condition and active
// gateway as the status says, so a graph shows the same as kubectl.
type gatewayCollector struct{ subnets client.Reader }

func (c *gatewayCollector) Describe(ch chan<- *prometheus.Desc) { ch <- gatewayReadyDesc }

func (c *gatewayCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), gatewayListTimeout)
	defer cancel()
	var list ovnetv1.SubnetList
	if err := c.subnets.List(ctx, &list); err != nil {
		// Before the cache has started there is nothing to report yet.
		return
	}
	for _, s := range list.Items {
		cond := meta.FindStatusCondition(s.Status.Conditions, ovnetv1.ConditionGatewayReady)
		if cond == nil {
			continue
		}
		ready := 0.0
		if cond.Status == metav1.ConditionTrue {
			ready = 1
		}
		ch <- prometheus.MustNewConstMetric(gatewayReadyDesc, prometheus.GaugeValue, ready, s.Name, s.Status.ActiveGateway)
	}
}
