package ovn

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	latency prometheus.Histogram
	errors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ovnet_nb_transaction_duration_seconds",
			Help:    "Time to commit one northbound transaction, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ovnet_nb_transaction_errors_total",
			Help: "Northbound transactions that failed.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.latency, m.errors)
	}
	return m
}

func (m *metrics) observe(d time.Duration, err error) {
	m.latency.Observe(d.Seconds())
	if err != nil {
		m.errors.Inc()
	}
}
