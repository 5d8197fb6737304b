package prodset

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/cachemetrics"
)

// rollbackLatency is the time from a rollout's failure (a gate's failing verdict, or an
// abort) to the traffic change that returns the traffic to the previous revision being
// submitted to DNS.
var rollbackLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "drover_rollout_rollback_latency_seconds",
	Help:    "Time from a rollout's failing gate or abort to the traffic change of its rollback being submitted.",
	Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120},
})

// gateInterruptions counts the reconciles whose Prod writes a gate failure interrupted;
// each decides again at once (decideAgain).
var gateInterruptions = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "drover_prodset_gate_interruptions_total",
	Help: "Reconciles of a ProdSet whose writes of Prods stopped because a gate of the set failed meanwhile; each decided again at once, so that a rollback does not wait for the writes.",
})

// evictionLatency is the time from a cluster judged unreachable (first seen unreachable by this
// manager, so the grace is included) or a maintenance admitted, to the DNS change that
// takes a Prod there from a non-zero weight to 0 being submitted.
var evictionLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "drover_prodset_eviction_latency_seconds",
	Help:    "Time from a cluster first seen unreachable, or its maintenance admitted, to the DNS change taking a Prod there to weight 0 being submitted, by reason (ClusterUnreachable, ClusterMaintenance).",
	Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 7.5, 10, 15, 30, 60, 120, 300},
}, []string{"reason"})

// durationBuckets span a few seconds to a working day: rollouts wait on pauses, approvals
// and Prometheus windows.
var durationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800}

// Outcomes of a rollout step (drover_rollout_step_duration_seconds).
const (
	stepPassed     = "Passed"
	stepRolledBack = "RolledBack"
	stepSuperseded = "Superseded"
)

var stepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "drover_rollout_step_duration_seconds",
	Help:    "Time from a rollout step's start to its end, by strategy (InPlace, Replace) and outcome (Passed, RolledBack, Superseded).",
	Buckets: durationBuckets,
}, []string{"strategy", "outcome"})

var rolloutDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "drover_rollout_duration_seconds",
	Help:    "Time from a rollout's start to its end, by strategy (InPlace, Replace) and outcome (Succeeded, RolledBack, Superseded).",
	Buckets: durationBuckets,
}, []string{"strategy", "outcome"})

var (
	evictedDesc = prometheus.NewDesc("drover_prodset_evicted_prods",
		"Prods of ProdSets out of traffic, by namespace and reason (ClusterUnreachable, ClusterMaintenance, Superseded, Retiring, Deleting, Rollout).",
		[]string{"namespace", "reason"}, nil)
	frozenDesc = prometheus.NewDesc("drover_prodsets_frozen",
		"ProdSets frozen because too many of their clusters are unreachable at once, by namespace.",
		[]string{"namespace"}, nil)
	belowMinDesc = prometheus.NewDesc("drover_prodsets_below_minimum",
		"ProdSets with fewer Prods serving than their minimum, by namespace.",
		[]string{"namespace"}, nil)
	// The start and end of each set's current (or last) rollout, for Grafana's
	// annotations (useValueForTime): one series per set and rollout, so Prometheus's
	// history holds every rollout while the manager exports only the latest.
	rolloutStartedDesc = prometheus.NewDesc("drover_rollout_started_timestamp_seconds",
		"When the current or last rollout of a ProdSet started, by namespace, prodset, revision and version (the template's, while it is the one rolled out).",
		[]string{"namespace", "prodset", "revision", "version"}, nil)
	rolloutFinishedDesc = prometheus.NewDesc("drover_rollout_finished_timestamp_seconds",
		"When the last rollout of a ProdSet finished, by namespace, prodset, revision, version and phase (Succeeded, RolledBack).",
		[]string{"namespace", "prodset", "revision", "version", "phase"}, nil)
)

// setMetrics computes the ProdSet gauges from the cache at scrape time.
var setMetrics = cachemetrics.New(collectSetMetrics, evictedDesc, frozenDesc, belowMinDesc, rolloutStartedDesc, rolloutFinishedDesc)

// collectSetMetrics sends the ProdSet gauges, read from r.
func collectSetMetrics(ctx context.Context, r client.Reader, ch chan<- prometheus.Metric) error {
	list := &droverv1.ProdSetList{}
	if err := r.List(ctx, list); err != nil {
		return err
	}
	evicted := cachemetrics.Counts{}
	frozen, below := map[string]float64{}, map[string]float64{}
	for i := range list.Items {
		set := &list.Items[i]
		ns := set.Namespace
		frozen[ns] += 0
		below[ns] += 0
		if conditions.IsTrue(set, droverv1.ProdSetFrozenCondition) {
			frozen[ns]++
		}
		if conditions.GetReason(set, droverv1.ProdSetAvailableCondition) == droverv1.ProdSetBelowMinimumReason {
			below[ns]++
		}
		for _, p := range set.Status.Prods {
			if p.Evicted != "" {
				evicted.Add(ns, p.Evicted)
			}
		}
		if ro := set.Status.Rollout; ro != nil && ro.StartedTime != nil {
			version := ""
			if set.Status.CurrentRevision == ro.Revision {
				version = set.Spec.Template.Spec.Version
			}
			ch <- prometheus.MustNewConstMetric(rolloutStartedDesc, prometheus.GaugeValue, float64(ro.StartedTime.Unix()), ns, set.Name, ro.Revision, version)
			if ro.FinishedTime != nil {
				ch <- prometheus.MustNewConstMetric(rolloutFinishedDesc, prometheus.GaugeValue, float64(ro.FinishedTime.Unix()), ns, set.Name, ro.Revision, version, string(ro.Phase))
			}
		}
	}
	evicted.Send(ch, evictedDesc)
	for ns, v := range frozen {
		ch <- prometheus.MustNewConstMetric(frozenDesc, prometheus.GaugeValue, v, ns)
	}
	for ns, v := range below {
		ch <- prometheus.MustNewConstMetric(belowMinDesc, prometheus.GaugeValue, v, ns)
	}
	return nil
}

func init() {
	metrics.Registry.MustRegister(rollbackLatency, gateInterruptions, evictionLatency, stepDuration, rolloutDuration, setMetrics)
}

// stepClock remembers when the current step of each set's rollout started. It lives in
// memory: after a restart the step under way is timed from the rollout's start if it is
// the first step, and not timed at all otherwise.
type stepClock struct {
	mu    sync.Mutex
	marks map[types.UID]stepMark
}

type stepMark struct {
	revision string
	step     int32
	// start is zero when unknown.
	start time.Time
}

func (c *stepClock) get(uid types.UID) (stepMark, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.marks[uid]
	return m, ok
}

func (c *stepClock) set(uid types.UID, m stepMark) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.marks == nil {
		c.marks = map[types.UID]stepMark{}
	}
	c.marks[uid] = m
}

func (c *stepClock) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.marks, uid)
}
