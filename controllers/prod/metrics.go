package prod

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/cachemetrics"
)

// The phases of a Prod, as drover_prods counts them (Phase).
const (
	PhaseAvailable   = "Available"
	PhaseProgressing = "Progressing"
	PhaseUnavailable = "Unavailable"
	PhaseUnreachable = "Unreachable"
	PhaseDeleting    = "Deleting"
)

// Phases lists every phase, in the order they are judged.
var Phases = []string{PhaseDeleting, PhaseUnreachable, PhaseAvailable, PhaseProgressing, PhaseUnavailable}

// Phase sums up a Prod's conditions in one word: Deleting (being deleted), Unreachable
// (ClusterReachable is False or Unknown), Available (Available is True), Progressing
// (not applied or judged yet, or its objects still rolling out), else Unavailable.
func Phase(p *droverv1.Prod) string {
	switch {
	case !p.DeletionTimestamp.IsZero():
		return PhaseDeleting
	case conditions.Has(p, droverv1.ProdClusterReachableCondition) && !conditions.IsTrue(p, droverv1.ProdClusterReachableCondition):
		return PhaseUnreachable
	}
	c := conditions.Get(p, droverv1.ProdAvailableCondition)
	switch {
	case c != nil && c.Status == metav1.ConditionTrue:
		return PhaseAvailable
	case c == nil || c.Status == metav1.ConditionUnknown || c.Reason == droverv1.ProdProgressingReason ||
		!conditions.Has(p, droverv1.ProdAppliedCondition):
		return PhaseProgressing
	}
	return PhaseUnavailable
}

var prodsDesc = prometheus.NewDesc("drover_prods",
	"Prods by namespace and phase (Available, Progressing, Unavailable, Unreachable, Deleting), from their conditions.",
	[]string{"namespace", "phase"}, nil)

// prodMetrics computes drover_prods from the cache at scrape time. The list is of the
// cache's own objects, not copies (UnsafeDisableDeepCopy): a scrape only reads them, and
// copying every Prod was most of a scrape's cost at 2,000 Prods.
var prodMetrics = cachemetrics.New(func(ctx context.Context, r client.Reader, ch chan<- prometheus.Metric) error {
	list := &droverv1.ProdList{}
	if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	counts := cachemetrics.Counts{}
	seen := map[string]bool{}
	for i := range list.Items {
		p := &list.Items[i]
		if !seen[p.Namespace] {
			// Every phase of a namespace with Prods, so a phase that empties reads 0.
			seen[p.Namespace] = true
			for _, ph := range Phases {
				counts[[2]string{p.Namespace, ph}] = 0
			}
		}
		counts.Add(p.Namespace, Phase(p))
	}
	counts.Send(ch, prodsDesc)
	return nil
}, prodsDesc)

func init() {
	metrics.Registry.MustRegister(prodMetrics)
}

// The outcomes of comparing a Prod's object with its live counterpart (ObjectsCompared).
const (
	// ObjectUnchanged: in sync with what drover applied last; not applied.
	ObjectUnchanged = "unchanged"
	// ObjectApplied: applied (new, drifted, changed, or not of a cached kind).
	ObjectApplied = "applied"
)

// objectsCompared counts, per outcome, the objects the Prod controller's reconciles
// compared with the workload cluster: what a resync verified, and what it applied.
var objectsCompared = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "drover_prod_objects_compared_total",
	Help: "Objects of Prods compared with the workload cluster in reconciles, by result: unchanged (in sync with drover's last apply, per the workload cache) or applied.",
}, []string{"result"})

func init() {
	metrics.Registry.MustRegister(objectsCompared)
}
