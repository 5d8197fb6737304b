// Package ready sums up each drover kind's own conditions into the three that tools
// read without knowing drover: Ready, and Reconciling and Stalled where they apply (the
// conventions of kstatus, which Flux's health checks, kubectl wait and cli-utils use).
//
//   - Stalled True: drover cannot go on until something outside it changes (a manifest
//     it may not apply, a rollout that failed and was rolled back, a drain refused).
//     kstatus reads Failed.
//   - Reconciling True: drover is on its way (Prods being placed or updated, a rollout
//     progressing or paused, DNS catching up). kstatus reads InProgress.
//   - Ready True when neither: kstatus reads Current. Ready False says the same as
//     whichever of the two is True.
//
// Reconciling and Stalled are present only while True, as the conventions ask. The
// verdicts are pure functions of an object's own conditions and status; the
// controllers call Apply at the end of their status computation.
package ready

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Verdict is where an object is, with the reason and message of the condition that
// says so; the zero value is ready.
type Verdict struct {
	Stalled, Reconciling bool
	Reason, Message      string
}

// Conditions are the three conditions every drover kind with a status carries.
var Conditions = []string{droverv1.ReadyCondition, droverv1.ReconcilingCondition, droverv1.StalledCondition}

// Apply writes v into conds as Ready, Reconciling and Stalled, observed at generation.
func Apply(conds *[]metav1.Condition, generation int64, v Verdict, readyMessage string) {
	c := metav1.Condition{Type: droverv1.ReadyCondition, Status: metav1.ConditionTrue, Reason: droverv1.ReadyReason,
		Message: readyMessage, ObservedGeneration: generation}
	if v.Stalled || v.Reconciling {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v.Reason, v.Message
	}
	meta.SetStatusCondition(conds, c)
	for _, t := range []struct {
		kind string
		on   bool
	}{{droverv1.ReconcilingCondition, v.Reconciling && !v.Stalled}, {droverv1.StalledCondition, v.Stalled}} {
		if !t.on {
			meta.RemoveStatusCondition(conds, t.kind)
			continue
		}
		meta.SetStatusCondition(conds, metav1.Condition{Type: t.kind, Status: metav1.ConditionTrue, Reason: v.Reason, Message: v.Message, ObservedGeneration: generation})
	}
}

// rule says how one condition bears on the verdict.
type rule struct {
	typ string
	// good is the status as it should be (True unless set).
	good metav1.ConditionStatus
	// optional: a missing condition is as it should be (otherwise drover has not said
	// yet: reconciling).
	optional bool
	// fine are reasons that are as they should be, whatever the status.
	fine []string
	// onlyFine: the status alone is not enough, only the fine reasons are.
	onlyFine bool
	// stalled are reasons that stall.
	stalled []string
}

// first is the verdict of the first condition of rules, in that order, that is not as it
// should be: stalled when its reason is one the rule says stalls, else reconciling.
func first(conds []metav1.Condition, rules ...rule) Verdict {
	for _, r := range rules {
		c := meta.FindStatusCondition(conds, r.typ)
		if c == nil {
			if r.optional {
				continue
			}
			return Verdict{Reconciling: true, Reason: "Waiting", Message: "no " + r.typ + " condition yet"}
		}
		good := r.good
		if good == "" {
			good = metav1.ConditionTrue
		}
		if c.Status == good && !r.onlyFine || slices.Contains(r.fine, c.Reason) {
			continue
		}
		msg := r.typ + " " + string(c.Status)
		if c.Reason != "" {
			msg += " " + c.Reason
		}
		if c.Message != "" {
			msg += ": " + c.Message
		}
		reason := c.Reason
		if reason == "" {
			reason = r.typ + string(c.Status)
		}
		stalled := slices.Contains(r.stalled, c.Reason)
		return Verdict{Stalled: stalled, Reconciling: !stalled, Reason: reason, Message: msg}
	}
	return Verdict{}
}

// Prod sums up a Prod: its cluster reachable, its manifests applied, available and its
// weight in DNS (or out of traffic, where its set wants it). A manifest drover may not apply, or an object it may not take, is
// stalled; an unreachable cluster is waited for. MirrorSynced is the mirror's own, and
// is left out.
func Prod(p *droverv1.Prod) Verdict {
	return first(p.Status.Conditions,
		rule{typ: droverv1.ProdAppliedCondition, stalled: []string{droverv1.ProdInvalidManifestReason, droverv1.ProdOwnershipConflictReason,
			droverv1.ProdNotPermittedReason, droverv1.ProdNotOwnedReason}},
		rule{typ: droverv1.ProdClusterReachableCondition, stalled: []string{droverv1.ProdClusterNotFoundReason}},
		rule{typ: droverv1.ProdAvailableCondition},
		// Out of traffic is where its set wants it (an eviction, a drain, a retirement).
		rule{typ: droverv1.ProdTrafficReadyCondition, fine: []string{droverv1.ProdTrafficNotConfiguredReason, droverv1.ProdTrafficDrainingReason}},
	)
}

// ProdSet sums up a ProdSet. Stalled: no room for a replica, too many clusters
// unreachable to act, DNS refusing its records or its name taken or not permitted, a
// rollout that failed (rolled back, or paused by its failure policy), a policy that is
// missing or invalid, an override that cannot be read. Reconciling: anything else not
// yet as it should be, a rollout under way or paused by a person, a move a safety rule
// holds.
func ProdSet(set *droverv1.ProdSet) Verdict {
	if ro := set.Status.Rollout; ro != nil && ro.Phase == droverv1.RolloutPaused && ro.FailedTime != nil {
		return Verdict{Stalled: true, Reason: "RolloutFailed", Message: "the rollout of revision " + ro.Revision + " failed and is paused: " + ro.Message}
	}
	return first(set.Status.Conditions,
		rule{typ: droverv1.ProdSetFrozenCondition, good: metav1.ConditionFalse, stalled: []string{droverv1.ProdSetFrozenReason}},
		rule{typ: droverv1.ProdSetRolledOutCondition, stalled: []string{droverv1.ProdSetRolledBackReason, droverv1.ProdSetPolicyNotFoundReason,
			droverv1.ProdSetPolicyUnsupportedReason, droverv1.ProdSetPolicyInvalidReason}},
		rule{typ: droverv1.ProdSetPlacedCondition, stalled: []string{droverv1.ProdSetUnplacedReason}},
		rule{typ: droverv1.ProdSetTrafficReadyCondition, fine: []string{droverv1.ProdSetTrafficNotConfigured},
			stalled: []string{droverv1.ProdSetTrafficRefusedReason, droverv1.ProdSetNameClaimedReason, droverv1.ProdSetTrafficNotPermittedReason}},
		// Degraded (True) is not every replica serving: on the way back, or held out.
		rule{typ: droverv1.ProdSetAvailableCondition, fine: []string{droverv1.ProdSetAvailableReason}, onlyFine: true},
		// Broken or overridden rules are not drover's to finish; a held move is on its way.
		rule{typ: droverv1.ProdSetSafetyRulesKeptCondition, optional: true,
			fine:    []string{droverv1.ProdSetSafetyBrokenReason, droverv1.ProdSetSafetyOverriddenReason},
			stalled: []string{droverv1.ProdSetSafetyBadOverrideReason}},
	)
}

// RolloutPolicy sums up a RolloutPolicy: accepted, or invalid until it is changed.
func RolloutPolicy(p *droverv1.RolloutPolicy) Verdict {
	return first(p.Status.Conditions, rule{typ: droverv1.RolloutPolicyAcceptedCondition, stalled: []string{droverv1.RolloutPolicyInvalidReason}})
}

// ClusterMaintenance sums up a ClusterMaintenance: drained is ready; refused, or naming
// a cluster that does not exist, is stalled until something changes; placing stand-ins
// or draining is on its way.
func ClusterMaintenance(m *droverv1.ClusterMaintenance) Verdict {
	if m.Status.Phase == droverv1.MaintenanceRestored {
		return Verdict{} // its work is done: the cluster is back
	}
	v := first(m.Status.Conditions,
		rule{typ: droverv1.MaintenanceAdmittedCondition, stalled: []string{droverv1.MaintenanceClusterNotFoundReason}},
		rule{typ: droverv1.MaintenanceDrainedCondition})
	if m.Status.Phase == droverv1.MaintenanceRefused && !m.Admitted() {
		v.Stalled, v.Reconciling = true, false
	}
	return v
}
