package prod

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/manifests"
	"github.com/drover-dev/drover/internal/ready"
)

// updateStatus computes every condition the controller owns from what the reconcile
// learned. A condition whose inputs could not be read is Unknown, and a verdict drover
// could not refresh keeps its last value but says why it is stale.
func (r *Reconciler) updateStatus(ctx context.Context, s *scope) {
	prod := s.prod
	prev := before(prod)
	prod.Status.Cluster = s.clusterKey.String()
	setClusterReachable(prod, s)
	setApplied(prod, s)
	setAvailable(prod, s)
	setTrafficReady(ctx, r, prod, s)
	ready.Apply(&prod.Status.Conditions, prod.Generation, ready.Prod(prod), "applied, available and in traffic")
	r.transitionEvents(prod, prev, s)
}

func setClusterReachable(prod *droverv1.Prod, s *scope) {
	c := metav1.Condition{Type: droverv1.ProdClusterReachableCondition, Status: metav1.ConditionFalse,
		Reason: s.reachable.reason, Message: s.reachable.message}
	switch {
	case s.reachable.ok:
		c.Status, c.Message = metav1.ConditionTrue, ""
	case s.reachable.reason == "" || s.reachable.reason == droverv1.ProdClusterReachableUnknownReason:
		c.Status = metav1.ConditionUnknown
		c.Reason = droverv1.ProdClusterReachableUnknownReason
	}
	conditions.Set(prod, c)
}

func setApplied(prod *droverv1.Prod, s *scope) {
	c := metav1.Condition{Type: droverv1.ProdAppliedCondition}
	switch {
	case s.deleting:
		c.Status, c.Reason = metav1.ConditionFalse, droverv1.ProdDeletingReason
		c.Message = deletingMessage(s)
	case s.applied:
		c.Status, c.Reason = metav1.ConditionTrue, droverv1.ProdAppliedReason
		c.Message = fmt.Sprintf("%d objects of version %s applied", len(prod.Status.Inventory), prod.Spec.Version)
	case s.applyErr != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, s.applyReason, s.applyErr.Error()
	default:
		// Nothing was applied in this reconcile because the cluster could not be used.
		c.Status, c.Reason = metav1.ConditionFalse, droverv1.ProdApplyPendingReason
		c.Message = "waiting for the cluster: " + s.reachable.message
		if prev := conditions.Get(prod, droverv1.ProdAppliedCondition); prev != nil && prev.Status == metav1.ConditionTrue &&
			prev.ObservedGeneration == prod.Generation {
			// What is applied stays applied; we just cannot see it now.
			c.Status, c.Reason = metav1.ConditionUnknown, droverv1.ProdApplyPendingReason
			c.Message = "last applied: " + prev.Message + "; cannot check now: " + s.reachable.message
		}
	}
	conditions.Set(prod, c)
}

func deletingMessage(s *scope) string {
	switch {
	case !s.drained:
		return "waiting for the Prod's traffic to drain before deleting its workload objects"
	case len(s.cleanupPending) > 0:
		return fmt.Sprintf("deleting %d workload objects, first %s", len(s.cleanupPending), manifests.Describe(s.cleanupPending[0]))
	case s.workload == nil && !s.finalizerRemoved && s.applyErr != nil:
		return "cannot delete the workload objects: " + s.applyErr.Error()
	case s.workload == nil && !s.finalizerRemoved:
		return "waiting for the cluster to delete the workload objects: " + s.reachable.message
	default:
		return "workload objects deleted"
	}
}

func setAvailable(prod *droverv1.Prod, s *scope) {
	c := metav1.Condition{Type: droverv1.ProdAvailableCondition}
	switch {
	case s.availability != nil:
		c.Status, c.Reason, c.Message = s.availability.Status, s.availability.Reason, s.availability.Message
	case s.deleting:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, droverv1.ProdDeletingReason, "the Prod is being deleted"
	case s.applyErr != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, droverv1.ProdUnavailableReason, "manifests are not applied: "+s.applyErr.Error()
	default:
		c.Status, c.Reason = metav1.ConditionUnknown, droverv1.ProdAvailabilityUnknownReason
		c.Message = "cannot read the workload objects: " + s.reachable.message
	}
	conditions.Set(prod, c)
}

func setTrafficReady(ctx context.Context, r *Reconciler, prod *droverv1.Prod, s *scope) {
	if s.deleting && !s.drained {
		conditions.Set(prod, metav1.Condition{Type: droverv1.ProdTrafficReadyCondition, Status: metav1.ConditionFalse,
			Reason: droverv1.ProdTrafficDrainingReason, Message: "taking the Prod out of traffic before deleting it"})
		return
	}
	st := r.Traffic.Status(ctx, prod)
	conditions.Set(prod, st.Condition)
	prod.Status.PublishedWeight = st.PublishedWeight
}
