package notify

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Results of drover_notifier_events_total.
const (
	resultDelivered = "delivered"
	resultFailed    = "failed"
	resultDropped   = "dropped"
)

var (
	events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_notifier_events_total",
		Help: "Events a Notifier handled, by result: delivered, failed (given up after its retries, or refused for good), dropped (its queue was full).",
	}, []string{"namespace", "notifier", "result"})
	retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_notifier_retries_total",
		Help: "Attempts to post an event that failed and were tried again.",
	}, []string{"namespace", "notifier"})
	queueLength = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "drover_notifier_queue_length",
		Help: "Events waiting in a Notifier's queue.",
	}, []string{"namespace", "notifier"})
)

func init() {
	metrics.Registry.MustRegister(events, retries, queueLength)
}

// forget deletes the series of a Notifier no longer served.
func forget(key types.NamespacedName) {
	labels := prometheus.Labels{"namespace": key.Namespace, "notifier": key.Name}
	events.DeletePartialMatch(labels)
	retries.DeletePartialMatch(labels)
	queueLength.DeletePartialMatch(labels)
}
