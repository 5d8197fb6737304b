package mirror

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
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
	syncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_nlb_mirror_sync_duration_seconds",
		Help:    "Duration of one NLB mirror sync (finding and reading the Octavia load balancer, planning, reading and changing AWS), by outcome.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60},
	}, []string{"outcome"})
)

var (
	lagDesc = prometheus.NewDesc("drover_nlb_mirror_sync_lag_seconds",
		"The longest time any mirrored Prod has gone without a successful sync (InSync or Changed): 0 when every mirror's last sync succeeded. "+
			"Counted from when this manager first synced the mirror.",
		nil, nil)
	mirrorsDesc = prometheus.NewDesc("drover_nlb_mirrors",
		"Mirrored Prods by the outcome of their last sync.",
		[]string{"outcome"}, nil)
)

// tracker remembers, for every mirrored Prod this manager syncs, the outcome of its last
// sync and since when it has not had a successful one.
type tracker struct {
	mu      sync.Mutex
	mirrors map[types.NamespacedName]mirrorState
	now     func() time.Time
}

type mirrorState struct {
	outcome string
	// failingSince is zero while the last sync succeeded.
	failingSince time.Time
}

var syncTracker = &tracker{now: time.Now}

func successful(outcome string) bool {
	return outcome == droverv1.ProdMirrorInSyncReason || outcome == droverv1.ProdMirrorChangedReason
}

func (t *tracker) record(key types.NamespacedName, outcome string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mirrors == nil {
		t.mirrors = map[types.NamespacedName]mirrorState{}
	}
	st, known := t.mirrors[key]
	st.outcome = outcome
	switch {
	case successful(outcome):
		st.failingSince = time.Time{}
	case !known || st.failingSince.IsZero():
		st.failingSince = t.now()
	}
	t.mirrors[key] = st
}

func (t *tracker) forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.mirrors, key)
}

// Describe implements prometheus.Collector.
func (t *tracker) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- mirrorsDesc
}

// Collect implements prometheus.Collector. A manager that syncs no mirror (none
// configured, or not the leader) reports nothing.
func (t *tracker) Collect(ch chan<- prometheus.Metric) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.mirrors) == 0 {
		return
	}
	now := t.now()
	lag := 0.0
	byOutcome := map[string]float64{}
	for _, st := range t.mirrors {
		byOutcome[st.outcome]++
		if !st.failingSince.IsZero() {
			lag = max(lag, now.Sub(st.failingSince).Seconds())
		}
	}
	ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, lag)
	for outcome, n := range byOutcome {
		ch <- prometheus.MustNewConstMetric(mirrorsDesc, prometheus.GaugeValue, n, outcome)
	}
}

func init() {
	metrics.Registry.MustRegister(syncs, driftCorrections, syncDuration, syncTracker)
}

// recordSync counts a sync that ended with outcome, tracks its mirror, and records an
// event when the mirror turns to a failing outcome (prev is the outcome before).
func (r *Reconciler) recordSync(s *scope, prev, outcome, message string) {
	syncs.WithLabelValues(outcome).Inc()
	syncDuration.WithLabelValues(outcome).Observe(r.Now().Sub(s.started).Seconds())
	syncTracker.record(types.NamespacedName{Namespace: s.prod.Namespace, Name: s.prod.Name}, outcome)
	if prev == outcome || r.Recorder == nil {
		return
	}
	if reason, ok := failureEvents[outcome]; ok {
		r.Recorder.Eventf(s.prod, nil, corev1.EventTypeWarning, reason, "Sync", "%s", message)
	}
}
