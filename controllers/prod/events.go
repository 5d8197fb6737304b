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
	// Of a Prod of a ProdSet, on the ProdSet, once for its Prods (routineEvent).
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
	// ReasonAvailable (Normal): the Available condition turned True. Of a Prod of a
	// ProdSet, on the ProdSet, once for its Prods (routineEvent).
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

// before copies the conditions: conditions.Get points into the Prod's slice of
// conditions, which conditions.Set changes in place, so a pointer kept would show the new
// condition, and no transition would ever be seen once the condition exists.
func before(prod *droverv1.Prod) conditionsBefore {
	get := func(t string) *metav1.Condition {
		if c := conditions.Get(prod, t); c != nil {
			cp := *c
			return &cp
		}
		return nil
	}
	return conditionsBefore{
		reachable: get(droverv1.ProdClusterReachableCondition),
		applied:   get(droverv1.ProdAppliedCondition),
		available: get(droverv1.ProdAvailableCondition),
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
			r.routineEvent(prod, ReasonAvailable, "Assess", "Prods of the set turned available; each Prod's Available condition says which version",
				"%s", orDefault(c.Message, fmt.Sprintf("version %s available", prod.Spec.Version)))
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

// routineEvent records a routine Normal event of prod (Applied, Available): on the Prod,
// or, for a Prod of a ProdSet (its controller), on the ProdSet with setNote, the same
// for all of its Prods. The events recorder (k8s.io/client-go/tools/events) folds events
// of the same type, reason, action and regarding object, whatever their notes, into one
// series: the set's Prods cost one event (and the series' updates), not one each. The
// note names no Prod or version, which the first event's note would keep for the whole
// series; each Prod's conditions say those. Warnings stay on the Prod.
func (r *Reconciler) routineEvent(prod *droverv1.Prod, reason, action, setNote, format string, args ...any) {
	if r.Recorder == nil {
		return
	}
	if set := prodSetOf(prod); set != nil {
		r.Recorder.Eventf(set, nil, corev1.EventTypeNormal, reason, action, "%s", setNote)
		return
	}
	r.Recorder.Eventf(prod, nil, corev1.EventTypeNormal, reason, action, format, args...)
}

// prodSetOf is a reference to the ProdSet that controls prod, nil when none does.
func prodSetOf(prod *droverv1.Prod) *metav1.PartialObjectMetadata {
	ref := metav1.GetControllerOf(prod)
	if ref == nil || ref.Kind != "ProdSet" || ref.APIVersion != droverv1.GroupVersion.String() {
		return nil
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: ref.APIVersion, Kind: ref.Kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: prod.Namespace, Name: ref.Name, UID: ref.UID},
	}
}
