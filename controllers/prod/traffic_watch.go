package prod

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// prodSetTrafficChanges wakes the Prods whose traffic state in their ProdSet's status
// changed, so their TrafficReady condition and publishedWeight follow at once (and a
// deleting Prod learns it is drained) without re-applying every Prod of the set.
func prodSetTrafficChanges() handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			oldSet, ok1 := e.ObjectOld.(*droverv1.ProdSet)
			newSet, ok2 := e.ObjectNew.(*droverv1.ProdSet)
			if !ok1 || !ok2 {
				return
			}
			old := map[string]droverv1.ProdSummary{}
			for _, p := range oldSet.Status.Prods {
				old[p.Name] = p
			}
			for _, p := range newSet.Status.Prods {
				if o, seen := old[p.Name]; !seen || !sameTraffic(o, p) {
					q.Add(ctrl.Request{NamespacedName: client.ObjectKey{Namespace: newSet.Namespace, Name: p.Name}})
				}
			}
		},
	}
}

func sameTraffic(a, b droverv1.ProdSummary) bool {
	return equality.Semantic.DeepEqual(a.Weight, b.Weight) && equality.Semantic.DeepEqual(a.PublishedWeight, b.PublishedWeight) &&
		equality.Semantic.DeepEqual(a.PendingWeight, b.PendingWeight) && a.Evicted == b.Evicted && a.Drained == b.Drained
}
