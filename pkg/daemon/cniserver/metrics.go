package cniserver

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the CNI server's series, beside controller-runtime's and
// the Open_vSwitch client's.
type metrics struct {
	// requests times every CNI command by command and result.
	requests *prometheus.HistogramVec
	// addressWait is how long ADD waited for the controller's record.
	addressWait prometheus.Histogram
	// ovnWait is how long ADD waited for ovn-controller.
	ovnWait prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	buckets := prometheus.ExponentialBuckets(0.001, 2, 16) // 1 ms to 33 s
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ovnet_cni_request_duration_seconds", Buckets: buckets,
			Help: "Time to serve a CNI request, by command and result (success or the CNI error code).",
		}, []string{"command", "result"}),
		addressWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ovnet_cni_address_wait_seconds", Buckets: buckets,
			Help: "Time ADD waited for ovnet-controller to address the pod.",
		}),
		ovnWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ovnet_cni_ovn_install_wait_seconds", Buckets: buckets,
			Help: "Time ADD waited for ovn-controller to install the pod's port.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.addressWait, m.ovnWait)
	}
	return m
}
