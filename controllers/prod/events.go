package prod

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Reasons of the events the Prod controller records on Prods. Each fires on a decision
// or a transition, never on every reconcile; docs/observability.md lists them.
const (
	// ReasonApplied (Normal): a new version or generation of the manifests was applied.
	ReasonApplied = "Applied"
	// ReasonPruned (Normal): objects that left spec.manifests were deleted.
	ReasonPruned = "Pruned"
	// ReasonApplyFailed, ReasonPruneFailed, ReasonInvalidManifest, ReasonOwnershipConflict,
	// ReasonNotOwned (Warning): the Applied condition turned False for that reason (the
	// condition's own).
	ReasonApplyFailed       = droverv1.ProdApplyFailedReason
	ReasonPruneFailed       = droverv1.ProdPruneFailedReason
	ReasonInvalidManifest   = droverv1.ProdInvalidManifestReason
	ReasonOwnershipConflict = droverv1.ProdOwnershipConflictReason
	ReasonNotOwned          = droverv1.ProdNotOwnedReason
	// ReasonAdopted (Normal): an existing object handed over with the adopt annotation is
	// about to be applied, and so taken over.
	ReasonAdopted = "Adopted"
	// ReasonNamespaceKept (Normal): a Namespace of the Prod's manifests was left on the
	// workload cluster when it left the manifests or the Prod was deleted.
	ReasonNamespaceKept = "NamespaceKept"
	// ReasonAvailable (Normal): the Available condition turned True.
	ReasonAvailable = "Available"
	// ReasonUnavailable (Warning): the Available condition turned False with reason
	// Unavailable (not merely progressing).
	ReasonUnavailable = "Unavailable"
	// ReasonClusterUnreachable (Warning): ClusterReachable turned False.
	ReasonClusterUnreachable = "ClusterUnreachable"
	// ReasonClusterReachable (Normal): ClusterReachable turned True again.
	ReasonClusterReachable = "ClusterReachable"
	// ReasonCleanedUp (Normal): the deleted Prod's workload objects are gone; the Prod goes.
	ReasonCleanedUp = "CleanedUp"
	// ReasonCleanupSkipped (Warning): the Prod went without cleanup, as annotated.
	ReasonCleanupSkipped = "CleanupSkipped"
)

// applyFailures are the Applied reasons that get an event when the condition turns to them.
var applyFailures = map[string]bool{
	ReasonApplyFailed: true, ReasonPruneFailed: true, ReasonInvalidManifest: true, ReasonOwnershipConflict: true,
	ReasonNotOwned: true,
}

// conditionsBefore keeps the conditions a reconcile started from, to tell transitions.
type conditionsBefore struct {
	reachable, applied, available *metav1.Condition
}

func before(prod *droverv1.Prod) conditionsBefore {
	return conditionsBefore{
		reachable: conditions.Get(prod, droverv1.ProdClusterReachableCondition),
		applied:   conditions.Get(prod, droverv1.ProdAppliedCondition),
		available: conditions.Get(prod, droverv1.ProdAvailableCondition),
	}
}

// transitionEvents records an event for each condition that changed in a way the user
// should hear about.
func (r *Reconciler) transitionEvents(prod *droverv1.Prod, prev conditionsBefore, s *scope) {
	if c := conditions.Get(prod, droverv1.ProdClusterReachableCondition); c != nil {
		switch {
		case c.Status == metav1.ConditionFalse && (prev.reachable == nil || prev.reachable.Status == metav1.ConditionTrue):
			r.event(prod, corev1.EventTypeWarning, ReasonClusterUnreachable, "Connect", "Cluster %s unreachable (%s): %s", s.clusterKey, c.Reason, c.Message)
		case c.Status == metav1.ConditionTrue && prev.reachable != nil && prev.reachable.Status != metav1.ConditionTrue:
			r.event(prod, corev1.EventTypeNormal, ReasonClusterReachable, "Connect", "Cluster %s reachable again", s.clusterKey)
		}
	}
	if c := conditions.Get(prod, droverv1.ProdAppliedCondition); c != nil && c.Status == metav1.ConditionFalse && applyFailures[c.Reason] &&
		(prev.applied == nil || prev.applied.Reason != c.Reason) {
		r.event(prod, corev1.EventTypeWarning, c.Reason, "Apply", "%s", c.Message)
	}
	if c := conditions.Get(prod, droverv1.ProdAvailableCondition); c != nil && !s.deleting {
		switch {
		case c.Status == metav1.ConditionTrue && (prev.available == nil || prev.available.Status != metav1.ConditionTrue):
			r.event(prod, corev1.EventTypeNormal, ReasonAvailable, "Assess", "%s", orDefault(c.Message, fmt.Sprintf("version %s available", prod.Spec.Version)))
		case c.Status == metav1.ConditionFalse && c.Reason == droverv1.ProdUnavailableReason &&
			(prev.available == nil || prev.available.Reason != c.Reason):
			r.event(prod, corev1.EventTypeWarning, ReasonUnavailable, "Assess", "%s", c.Message)
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
