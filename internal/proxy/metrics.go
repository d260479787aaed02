package proxy

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	syncSeconds  prometheus.Histogram
	syncErrors   prometheus.Counter
	writes       prometheus.Counter
	servicePorts prometheus.Gauge
}

func newMetrics() metrics {
	return metrics{
		syncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bosun_proxy_sync_duration_seconds", Help: "Time to compute and write the proxy's rules.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		syncErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "bosun_proxy_sync_errors_total", Help: "Syncs that failed."}),
		writes:       prometheus.NewCounter(prometheus.CounterOpts{Name: "bosun_proxy_writes_total", Help: "Syncs that changed the kernel's rules."}),
		servicePorts: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bosun_proxy_service_ports", Help: "Service ports the last sync considered."}),
	}
}

// Collectors returns the proxy's metrics, for the caller to register.
func (p *Proxy) Collectors() []prometheus.Collector {
	m := p.metrics
	return []prometheus.Collector{m.syncSeconds, m.syncErrors, m.writes, m.servicePorts}
}
