package prod

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/leftovers"
	"github.com/drover-dev/drover/internal/manifests"
)

// ReasonReleased (Warning): a deleted Prod carrying drover.dev/release-finalizers was let
// go although its workload objects could not be deleted; the event says which are left.
const ReasonReleased = "Released"

// releasing says whether the Prod is being deleted and the platform team released it
// (drover.dev/release-finalizers=true): the drain is not waited for, and workload objects
// that cannot be deleted are left and recorded instead of holding the Prod.
func releasing(p *droverv1.Prod) bool {
	return !p.DeletionTimestamp.IsZero() && p.Annotations[droverv1.ReleaseFinalizersAnnotation] == "true"
}

// release lets the released Prod go although what remains of its inventory could not be
// deleted (why): it records the objects left in the manager's namespace and in a Warning
// event, then removes the finalizer. Without a record written the finalizer stays.
func (r *Reconciler) release(ctx context.Context, s *scope, why string) error {
	p := s.prod
	left := make([]string, 0, len(p.Status.Inventory))
	for _, ref := range p.Status.Inventory {
		left = append(left, fmt.Sprintf("%s on Cluster %s", manifests.Describe(ref), s.clusterKey))
	}
	rec := leftovers.Record{
		Kind: "Prod", Namespace: p.Namespace, Name: p.Name, UID: string(p.UID), Finalizer: droverv1.ProdFinalizer,
		Released: r.Now(), Reason: why, Left: left,
	}
	if err := leftovers.Write(ctx, r.Client, r.LeftoversNamespace, rec); err != nil {
		return fmt.Errorf("%s is set, but what is left could not be recorded, so the finalizer stays: %w", droverv1.ReleaseFinalizersAnnotation, err)
	}
	r.event(p, corev1.EventTypeWarning, ReasonReleased, "Release", "%s",
		leftovers.EventMessage(rec, "deleting its workload objects", r.LeftoversNamespace))
	s.drained = true
	return r.removeFinalizer(ctx, s)
}
