package ready

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func cond(t string, s metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: reason + " message"}
}

// kstatusOf is what kstatus (Flux's health checks, cli-utils) reads of obj.
func kstatusOf(t *testing.T, obj runtime.Object) status.Status {
	t.Helper()
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: content})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func healthySet() *droverv1.ProdSet {
	set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Name: "shop", Generation: 3}}
	set.Status.ObservedGeneration = 3
	set.Status.Conditions = []metav1.Condition{
		cond(droverv1.ProdSetFrozenCondition, metav1.ConditionFalse, droverv1.ProdSetNotFrozenReason),
		cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionTrue, droverv1.ProdSetRolledOutReason),
		cond(droverv1.ProdSetPlacedCondition, metav1.ConditionTrue, droverv1.ProdSetPlacedReason),
		cond(droverv1.ProdSetTrafficReadyCondition, metav1.ConditionTrue, droverv1.ProdSetTrafficSyncedReason),
		cond(droverv1.ProdSetAvailableCondition, metav1.ConditionTrue, droverv1.ProdSetAvailableReason),
	}
	return set
}

// set returns the healthy set with conditions c in place of its own of the same type.
func set(mutate func(*droverv1.ProdSet), c ...metav1.Condition) *droverv1.ProdSet {
	s := healthySet()
	for _, x := range c {
		meta.SetStatusCondition(&s.Status.Conditions, x)
	}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func TestProdSetReadsAsKStatusDoes(t *testing.T) {
	failed := func(s *droverv1.ProdSet) {
		s.Status.Rollout = &droverv1.RolloutStatus{Revision: "abc", Phase: droverv1.RolloutPaused, FailedTime: &metav1.MicroTime{}, Message: "gate 1 failed"}
	}
	paused := func(s *droverv1.ProdSet) {
		s.Status.Rollout = &droverv1.RolloutStatus{Revision: "abc", Phase: droverv1.RolloutPaused}
	}
	tests := []struct {
		name   string
		set    *droverv1.ProdSet
		want   status.Status
		reason string
	}{
		{"healthy", set(nil), status.CurrentStatus, droverv1.ReadyReason},
		{"mid-rollout", set(nil, cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionFalse, droverv1.ProdSetRolloutProgressing)), status.InProgressStatus, droverv1.ProdSetRolloutProgressing},
		{"paused by a person", set(paused, cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionFalse, droverv1.ProdSetRolloutPausedReason)), status.InProgressStatus, droverv1.ProdSetRolloutPausedReason},
		{"paused by its failure policy", set(failed, cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionFalse, droverv1.ProdSetRolloutPausedReason)), status.FailedStatus, "RolloutFailed"},
		{"rolling back", set(nil, cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionFalse, droverv1.ProdSetRollingBackReason)), status.InProgressStatus, droverv1.ProdSetRollingBackReason},
		{"rolled back", set(nil, cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionFalse, droverv1.ProdSetRolledBackReason)), status.FailedStatus, droverv1.ProdSetRolledBackReason},
		{"policy invalid", set(nil, cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionFalse, droverv1.ProdSetPolicyInvalidReason)), status.FailedStatus, droverv1.ProdSetPolicyInvalidReason},
		{"held by a freeze", set(nil, cond(droverv1.ProdSetRolledOutCondition, metav1.ConditionFalse, droverv1.ProdSetRolloutFrozenReason)), status.InProgressStatus, droverv1.ProdSetRolloutFrozenReason},
		{"too many clusters unreachable", set(nil, cond(droverv1.ProdSetFrozenCondition, metav1.ConditionTrue, droverv1.ProdSetFrozenReason)), status.FailedStatus, droverv1.ProdSetFrozenReason},
		{"no room", set(nil, cond(droverv1.ProdSetPlacedCondition, metav1.ConditionFalse, droverv1.ProdSetUnplacedReason)), status.FailedStatus, droverv1.ProdSetUnplacedReason},
		{"DNS catching up", set(nil, cond(droverv1.ProdSetTrafficReadyCondition, metav1.ConditionFalse, droverv1.ProdSetTrafficPendingReason)), status.InProgressStatus, droverv1.ProdSetTrafficPendingReason},
		{"name claimed", set(nil, cond(droverv1.ProdSetTrafficReadyCondition, metav1.ConditionFalse, droverv1.ProdSetNameClaimedReason)), status.FailedStatus, droverv1.ProdSetNameClaimedReason},
		{"no traffic configured", set(nil, cond(droverv1.ProdSetTrafficReadyCondition, metav1.ConditionUnknown, droverv1.ProdSetTrafficNotConfigured)), status.CurrentStatus, droverv1.ReadyReason},
		{"degraded", set(nil, cond(droverv1.ProdSetAvailableCondition, metav1.ConditionTrue, droverv1.ProdSetDegradedReason)), status.InProgressStatus, droverv1.ProdSetDegradedReason},
		{"below the minimum", set(nil, cond(droverv1.ProdSetAvailableCondition, metav1.ConditionFalse, droverv1.ProdSetBelowMinimumReason)), status.InProgressStatus, droverv1.ProdSetBelowMinimumReason},
		{"a safety rule holds a move", set(nil, cond(droverv1.ProdSetSafetyRulesKeptCondition, metav1.ConditionFalse, droverv1.ProdSetSafetyHeldReason)), status.InProgressStatus, droverv1.ProdSetSafetyHeldReason},
		{"a safety rule broken", set(nil, cond(droverv1.ProdSetSafetyRulesKeptCondition, metav1.ConditionFalse, droverv1.ProdSetSafetyBrokenReason)), status.CurrentStatus, droverv1.ReadyReason},
		{"an override that is none", set(nil, cond(droverv1.ProdSetSafetyRulesKeptCondition, metav1.ConditionFalse, droverv1.ProdSetSafetyBadOverrideReason)), status.FailedStatus, droverv1.ProdSetSafetyBadOverrideReason},
		{"not reconciled yet", &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Generation: 1}}, status.InProgressStatus, "Waiting"},
		{"a new generation not observed", set(func(s *droverv1.ProdSet) { s.Generation = 4 }), status.InProgressStatus, droverv1.ReadyReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.set
			// Twice: a verdict written over another leaves no stale Reconciling or Stalled.
			Apply(&s.Status.Conditions, 3, Verdict{Stalled: true, Reason: "Before"}, "")
			Apply(&s.Status.Conditions, 3, ProdSet(s), "ready")
			if got := kstatusOf(t, s); got != tt.want {
				t.Errorf("kstatus = %s, want %s; conditions %+v", got, tt.want, s.Status.Conditions)
			}
			c := meta.FindStatusCondition(s.Status.Conditions, droverv1.ReadyCondition)
			if c == nil || c.Reason != tt.reason || (c.Status == metav1.ConditionTrue) != (tt.reason == droverv1.ReadyReason) {
				t.Errorf("Ready = %+v, want reason %s", c, tt.reason)
			}
			reconciling := meta.FindStatusCondition(s.Status.Conditions, droverv1.ReconcilingCondition)
			stalled := meta.FindStatusCondition(s.Status.Conditions, droverv1.StalledCondition)
			switch {
			case reconciling != nil && stalled != nil:
				t.Errorf("both Reconciling and Stalled: %+v", s.Status.Conditions)
			case (stalled != nil) != (tt.want == status.FailedStatus):
				t.Errorf("Stalled = %+v for %s", stalled, tt.want)
			}
		})
	}
}

func TestOtherKindsReadAsKStatusDoes(t *testing.T) {
	prod := func(c ...metav1.Condition) *droverv1.Prod {
		p := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
		p.Status.ObservedGeneration = 1
		p.Status.Conditions = []metav1.Condition{
			cond(droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason),
			cond(droverv1.ProdClusterReachableCondition, metav1.ConditionTrue, droverv1.ProdClusterReachableReason),
			cond(droverv1.ProdAvailableCondition, metav1.ConditionTrue, droverv1.ProdAvailableReason),
			cond(droverv1.ProdTrafficReadyCondition, metav1.ConditionTrue, droverv1.ProdTrafficReadyReason),
		}
		for _, x := range c {
			meta.SetStatusCondition(&p.Status.Conditions, x)
		}
		Apply(&p.Status.Conditions, 1, Prod(p), "ready")
		return p
	}
	policy := func(c metav1.Condition) *droverv1.RolloutPolicy {
		p := &droverv1.RolloutPolicy{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
		p.Status.ObservedGeneration = 1
		p.Status.Conditions = []metav1.Condition{c}
		Apply(&p.Status.Conditions, 1, RolloutPolicy(p), "ready")
		return p
	}
	maint := func(phase droverv1.MaintenancePhase, admitted, drained metav1.Condition) *droverv1.ClusterMaintenance {
		m := &droverv1.ClusterMaintenance{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
		m.Status.ObservedGeneration, m.Status.Phase = 1, phase
		if admitted.Status == metav1.ConditionTrue {
			m.Status.AdmittedTime = &metav1.Time{}
		}
		m.Status.Conditions = []metav1.Condition{admitted, drained}
		Apply(&m.Status.Conditions, 1, ClusterMaintenance(m), "ready")
		return m
	}
	notAdmitted := cond(droverv1.MaintenanceDrainedCondition, metav1.ConditionFalse, droverv1.MaintenanceNotAdmittedReason)
	tests := []struct {
		name string
		obj  runtime.Object
		want status.Status
	}{
		{"Prod serving", prod(), status.CurrentStatus},
		{"Prod rolling out its workload", prod(cond(droverv1.ProdAvailableCondition, metav1.ConditionFalse, droverv1.ProdProgressingReason)), status.InProgressStatus},
		{"Prod on an unreachable cluster", prod(cond(droverv1.ProdClusterReachableCondition, metav1.ConditionFalse, droverv1.ProdClusterProbeFailingReason)), status.InProgressStatus},
		{"Prod with a manifest it may not apply", prod(cond(droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdNotPermittedReason)), status.FailedStatus},
		{"Prod its set took out of traffic", prod(cond(droverv1.ProdTrafficReadyCondition, metav1.ConditionFalse, droverv1.ProdTrafficDrainingReason)), status.CurrentStatus},
		{"Prod whose weight DNS does not have yet", prod(cond(droverv1.ProdTrafficReadyCondition, metav1.ConditionFalse, droverv1.ProdTrafficPendingReason)), status.InProgressStatus},
		{"Prod without traffic configured", prod(cond(droverv1.ProdTrafficReadyCondition, metav1.ConditionUnknown, droverv1.ProdTrafficNotConfiguredReason)), status.CurrentStatus},
		{"policy accepted", policy(cond(droverv1.RolloutPolicyAcceptedCondition, metav1.ConditionTrue, droverv1.RolloutPolicyAcceptedReason)), status.CurrentStatus},
		{"policy invalid", policy(cond(droverv1.RolloutPolicyAcceptedCondition, metav1.ConditionFalse, droverv1.RolloutPolicyInvalidReason)), status.FailedStatus},
		{"drain refused", maint(droverv1.MaintenanceRefused, cond(droverv1.MaintenanceAdmittedCondition, metav1.ConditionFalse, droverv1.MaintenanceSafetyRuleReason), notAdmitted), status.FailedStatus},
		{"drain waiting for stand-ins", maint(droverv1.MaintenanceSurging, cond(droverv1.MaintenanceAdmittedCondition, metav1.ConditionFalse, droverv1.MaintenanceSurgingReason), notAdmitted), status.InProgressStatus},
		{"draining", maint(droverv1.MaintenanceDraining, cond(droverv1.MaintenanceAdmittedCondition, metav1.ConditionTrue, droverv1.MaintenanceAdmittedReason),
			cond(droverv1.MaintenanceDrainedCondition, metav1.ConditionFalse, droverv1.MaintenanceDrainingReason)), status.InProgressStatus},
		{"drained", maint(droverv1.MaintenanceDrained, cond(droverv1.MaintenanceAdmittedCondition, metav1.ConditionTrue, droverv1.MaintenanceAdmittedReason),
			cond(droverv1.MaintenanceDrainedCondition, metav1.ConditionTrue, droverv1.MaintenanceDrainedReason)), status.CurrentStatus},
		{"restoring by command", maint(droverv1.MaintenanceRestoring, cond(droverv1.MaintenanceAdmittedCondition, metav1.ConditionFalse, droverv1.MaintenanceReleasedReason),
			cond(droverv1.MaintenanceDrainedCondition, metav1.ConditionFalse, droverv1.MaintenanceDrainingReason)), status.InProgressStatus},
		{"restored by command", maint(droverv1.MaintenanceRestored, cond(droverv1.MaintenanceAdmittedCondition, metav1.ConditionFalse, droverv1.MaintenanceReleasedReason),
			cond(droverv1.MaintenanceDrainedCondition, metav1.ConditionFalse, droverv1.MaintenanceReleasedReason)), status.CurrentStatus},
	}
	for _, tt := range tests {
		if got := kstatusOf(t, tt.obj); got != tt.want {
			t.Errorf("%s: kstatus = %s, want %s", tt.name, got, tt.want)
		}
	}
}
