package prodset

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// rollbackLatency is the time from a rollout's failure (a gate's failing verdict, or an
// abort) to the traffic change that returns the traffic to the previous revision being
// submitted to DNS.
var rollbackLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "drover_rollout_rollback_latency_seconds",
	Help:    "Time from a rollout's failing gate or abort to the traffic change of its rollback being submitted.",
	Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120},
})

func init() {
	metrics.Registry.MustRegister(rollbackLatency)
}
