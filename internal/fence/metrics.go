package fence

import "github.com/prometheus/client_golang/prometheus"

// Collectors returns the fence's metrics, read from its nftables counters
// at each scrape, for the caller to register.
func (f *Fence) Collectors() []prometheus.Collector {
	read := func(pod bool) func() float64 {
		return func() float64 {
			svc, podN, err := f.Counters()
			if err != nil {
				return 0
			}
			if pod {
				return float64(podN)
			}
			return float64(svc)
		}
	}
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "bosun_fence_rejected_packets_total", Help: "Packets the network fence refused.",
			ConstLabels: prometheus.Labels{"range": "service"},
		}, read(false)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "bosun_fence_rejected_packets_total", Help: "Packets the network fence refused.",
			ConstLabels: prometheus.Labels{"range": "pod"},
		}, read(true)),
	}
}
