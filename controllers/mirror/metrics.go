package mirror

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	syncs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_nlb_mirror_syncs_total",
		Help: "NLB mirror syncs by outcome (InSync, Changed, Blocked, OctaviaUnavailable, LoadBalancerNotFound, Failed, NotConfigured).",
	}, []string{"outcome"})
	driftCorrections = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "drover_nlb_mirror_drift_corrections_total",
		Help: "NLB mirror syncs that found the NLB changed outside drover and corrected it.",
	})
)

func init() {
	metrics.Registry.MustRegister(syncs, driftCorrections)
}
