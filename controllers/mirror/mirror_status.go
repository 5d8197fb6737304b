package mirror

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// updateStatus computes MirrorSynced, the one condition the controller owns, from what the
// reconcile learned. A Prod without a mirror (any more) has neither the condition nor
// status.mirror.
func updateStatus(s *scope) {
	p := s.prod
	c, ok := mirrorSynced(s)
	if !ok {
		conditions.Delete(p, droverv1.ProdMirrorSyncedCondition)
		p.Status.Mirror = nil
		return
	}
	c.ObservedGeneration = p.Generation
	conditions.Set(p, c)
}

// mirrorSynced is the MirrorSynced condition; false when the Prod has no mirror.
func mirrorSynced(s *scope) (metav1.Condition, bool) {
	c := metav1.Condition{Type: droverv1.ProdMirrorSyncedCondition, Status: metav1.ConditionFalse, Reason: droverv1.ProdMirrorDeletingReason}
	switch {
	case s.abandoned != "":
		// The Prod goes, but its NLB stays: status keeps naming it (and its target
		// groups), so that a retry records the same leftovers.
		c.Message = "released by " + droverv1.ReleaseFinalizersAnnotation + " without deleting the NLB: " + s.abandoned
	case s.released || !s.enabled && !s.owns:
		return c, false
	case s.outcome != nil:
		c.Reason, c.Message = s.outcome.reason, s.outcome.message
		if successful(s.outcome.reason) {
			c.Status = metav1.ConditionTrue
		}
	case s.trafficErr != nil:
		c.Status = metav1.ConditionUnknown
		c.Message = "cannot tell whether traffic still reaches the NLB, so it is kept: " + s.trafficErr.Error()
	case s.teardown != "":
		c.Message = s.teardown
	case s.deleting:
		// No finalizer: drover never created an NLB for this Prod.
		c.Message = "the Prod is being deleted; it has no NLB to delete"
	default:
		// The API server refuses a mirror without serviceRef or loadBalancerID.
		c.Status, c.Reason = metav1.ConditionUnknown, droverv1.ProdMirrorLoadBalancerNotFoundReason
		c.Message = "spec.traffic names no Octavia load balancer (serviceRef or loadBalancerID) to mirror"
	}
	return c, true
}
