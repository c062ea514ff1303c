package ovsdbtxn

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the latency histogram and error counter of one database's
// transactions, and the count of the server's transactions carrying them.
type Metrics struct {
	latency prometheus.Histogram
	errors  prometheus.Counter
	commits prometheus.Counter
}

// New makes the metrics ovnet_<db>_transaction_duration_seconds,
// ovnet_<db>_transaction_errors_total and ovnet_<db>_commits_total,
// described with the database's human name, and registers them with reg
// unless it is nil.
func NewMetrics(reg prometheus.Registerer, db, humanName string) *Metrics {
	t := &Metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ovnet_" + db + "_transaction_duration_seconds",
			Help:    "Time to commit one " + humanName + " transaction, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ovnet_" + db + "_transaction_errors_total",
			Help: humanName + " transactions that failed.",
		}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ovnet_" + db + "_commits_total",
			Help: "Transactions sent to the " + humanName + " server; transactions made while one is in flight " +
				"are sent together, so one may carry several of those counted by ovnet_" + db + "_transaction_duration_seconds.",
		}),
	}
	if reg != nil {
		reg.MustRegister(t.latency, t.errors, t.commits)
	}
	return t
}

// Observe records one transaction.
func (t *Metrics) Observe(d time.Duration, err error) {
	t.latency.Observe(d.Seconds())
	if err != nil {
		t.errors.Inc()
	}
}

// connectedGauge is ovnet_<db>_connected, read at scrape time so that it
// is never stale: an outage of the database shows as 0 for as long as the
// client has no connection, whatever else the process is doing.
func connectedGauge(db, humanName string, connected func() bool) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ovnet_" + db + "_connected",
		Help: "1 while the " + humanName + " client holds a connection, else 0.",
	}, func() float64 {
		if connected() {
			return 1
		}
		return 0
	})
}
