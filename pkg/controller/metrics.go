package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovnet/ovnet/pkg/ipam"
)

// Metrics are the controller's own Prometheus metrics.
type Metrics struct {
	addressLatency prometheus.Histogram
}

// NewMetrics registers the controller's metrics, including per-subnet
// usage read from the allocator at scrape time (so it is never stale and
// costs nothing per allocation).
func NewMetrics(reg prometheus.Registerer, allocator *ipam.IPAM) *Metrics {
	m := &Metrics{addressLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ovnet_pod_address_latency_seconds",
		Help:    "Time from a pod's creation until its address is recorded on it.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	})}
	reg.MustRegister(m.addressLatency, &usageCollector{ipam: allocator})
	return m
}

func (m *Metrics) observeAddressed(created time.Time) {
	if m != nil && !created.IsZero() {
		m.addressLatency.Observe(time.Since(created).Seconds())
	}
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
