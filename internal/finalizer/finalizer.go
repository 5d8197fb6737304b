// Package finalizer adds a controller's finalizer to an object that others put
// finalizers on too.
//
// An object's finalizers are one list, and a custom resource takes only JSON merge
// patches, which write a list whole: a patch adding a finalizer to a copy read before
// another controller (or a user) added theirs drops the other one. Cluster API's
// finalizers.EnsureFinalizer patches so. A Prod carries two of drover's finalizers, the
// Prod controller's and the mirror's, and both controllers add theirs on the Prod's first
// reconcile, from the same cached copy; the Prod controller does not wake for a change of
// finalizers, so its own could stay dropped until its next reconcile, and a Prod deleted
// in between would go without its drain and its clean-up. Ensure writes with the version
// it read as a precondition instead.
package finalizer

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// attempts bounds the writes of one Ensure: a new Prod is written by its ProdSet, the Prod
// controller and the mirror at once, so a second conflict is not rare.
const attempts = 4

// Ensure adds finalizer to obj unless obj has it or is being deleted, and says whether it
// wrote. The write carries obj's resourceVersion: if another writer got there first, obj
// is read again from live (the API server; a cache may not have caught up) and the
// finalizer added to that, up to attempts writes in all. obj is left as the last write
// returned it, or as last read.
func Ensure(ctx context.Context, c client.Client, live client.Reader, obj client.Object, finalizer string) (bool, error) {
	return patchLocked(ctx, c, live, obj, func(o client.Object) bool {
		if !o.GetDeletionTimestamp().IsZero() || controllerutil.ContainsFinalizer(o, finalizer) {
			return false
		}
		controllerutil.AddFinalizer(o, finalizer)
		return true
	})
}

// Remove takes finalizer off obj, if it has it, and says whether it wrote: as Ensure, with
// the version it read as a precondition, read again from live on a conflict, so that a
// finalizer another writer added or removed meanwhile is neither dropped nor put back (a
// JSON merge patch writes the list whole). obj is left as the last write returned it, or
// as last read.
func Remove(ctx context.Context, c client.Client, live client.Reader, obj client.Object, finalizer string) (bool, error) {
	return patchLocked(ctx, c, live, obj, func(o client.Object) bool {
		return controllerutil.RemoveFinalizer(o, finalizer)
	})
}

// patchLocked writes what change does to obj's finalizers, unless change says there is
// nothing to do, with obj's resourceVersion as a precondition: on a conflict obj is read
// again from live and changed again, up to attempts writes in all. It says whether it
// wrote; obj is left as the last write returned it, or as last read.
func patchLocked(ctx context.Context, c client.Client, live client.Reader, obj client.Object, change func(client.Object) bool) (bool, error) {
	for attempt := 1; ; attempt++ {
		before := obj.DeepCopyObject().(client.Object)
		if !change(obj) {
			return false, nil
		}
		err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		if err == nil {
			return true, nil
		}
		obj.SetFinalizers(before.GetFinalizers())
		if !apierrors.IsConflict(err) || live == nil || attempt == attempts {
			return false, err
		}
		if err := live.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err
		}
	}
}
