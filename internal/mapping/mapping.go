// Package mapping holds the watch mappings drover's controllers share.
package mapping

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
)

// AllInNamespace returns a map function that wakes every object of the kind newList lists
// in the namespace of the object that changed: for controllers that read all the
// Clusters (or ClusterMaintenances, ProdSets) of their namespace.
func AllInNamespace(c client.Reader, newList func() client.ObjectList) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []ctrl.Request {
		list := newList()
		// Only the names are read: the cache's objects are not copied (a namespace of
		// hundreds of sets was copied whole for every event of a Cluster).
		if err := c.List(ctx, list, client.InNamespace(o.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing objects to wake", "kind", list.GetObjectKind().GroupVersionKind().Kind, "namespace", o.GetNamespace())
			return nil
		}
		var reqs []ctrl.Request
		_ = meta.EachListItem(list, func(item runtime.Object) error {
			if obj, ok := item.(client.Object); ok {
				reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
			}
			return nil
		})
		return reqs
	}
}
