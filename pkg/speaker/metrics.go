package speaker

import "github.com/prometheus/client_golang/prometheus"

// The speaker's metrics, read at each scrape from the session monitor and
// the announcer.
var (
	peerUpDesc = prometheus.NewDesc("ovnet_bgp_peer_up",
		"1 while the BGP session to the peer is established, 0 otherwise.", []string{"peer"}, nil)
	updatesSentDesc = prometheus.NewDesc("ovnet_bgp_updates_sent_total",
		"BGP UPDATE messages sent to the peer since the speaker started.", []string{"peer"}, nil)
	updatesReceivedDesc = prometheus.NewDesc("ovnet_bgp_updates_received_total",
		"BGP UPDATE messages received from the peer since the speaker started.", []string{"peer"}, nil)
	announcedDesc = prometheus.NewDesc("ovnet_bgp_announced_prefixes",
		"Prefixes the node announces, by what they stand for: subnet, pod or service.", []string{"kind"}, nil)
)

// collector exposes the sessions and the announcements.
type collector struct {
	sessions  *sessionMonitor
	announcer *Announcer
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{peerUpDesc, updatesSentDesc, updatesReceivedDesc, announcedDesc} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.sessions.Sessions() {
		up := 0.0
		if s.Established() {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(peerUpDesc, prometheus.GaugeValue, up, s.Address)
		ch <- prometheus.MustNewConstMetric(updatesSentDesc, prometheus.CounterValue, float64(s.UpdatesSent), s.Address)
		ch <- prometheus.MustNewConstMetric(updatesReceivedDesc, prometheus.CounterValue, float64(s.UpdatesReceived), s.Address)
	}
	announced := c.announcer.Announced()
	// Every kind, zeros included, so that a graph has a series from the
	// start.
	for _, k := range []Kind{KindSubnet, KindPod, KindService} {
		ch <- prometheus.MustNewConstMetric(announcedDesc, prometheus.GaugeValue, float64(announced[k]), string(k))
	}
}
