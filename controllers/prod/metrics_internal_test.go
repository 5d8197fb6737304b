package prod

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestPhase(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason}
	}
	reachable := cond(droverv1.ProdClusterReachableCondition, metav1.ConditionTrue, droverv1.ProdClusterReachableReason)
	applied := cond(droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
	now := metav1.Now()
	for _, tc := range []struct {
		name     string
		deleting bool
		conds    []metav1.Condition
		want     string
	}{
		{name: "new", want: PhaseProgressing},
		{name: "available", conds: []metav1.Condition{reachable, applied, cond(droverv1.ProdAvailableCondition, metav1.ConditionTrue, "Available")}, want: PhaseAvailable},
		{name: "rolling out", conds: []metav1.Condition{reachable, applied, cond(droverv1.ProdAvailableCondition, metav1.ConditionFalse, droverv1.ProdProgressingReason)}, want: PhaseProgressing},
		{name: "unavailable", conds: []metav1.Condition{reachable, applied, cond(droverv1.ProdAvailableCondition, metav1.ConditionFalse, droverv1.ProdUnavailableReason)}, want: PhaseUnavailable},
		{name: "apply failed", conds: []metav1.Condition{reachable, cond(droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdApplyFailedReason),
			cond(droverv1.ProdAvailableCondition, metav1.ConditionFalse, droverv1.ProdUnavailableReason)}, want: PhaseUnavailable},
		{name: "unreachable", conds: []metav1.Condition{cond(droverv1.ProdClusterReachableCondition, metav1.ConditionFalse, droverv1.ProdClusterProbeFailingReason),
			applied, cond(droverv1.ProdAvailableCondition, metav1.ConditionTrue, "Available")}, want: PhaseUnreachable},
		{name: "unknown cluster", conds: []metav1.Condition{cond(droverv1.ProdClusterReachableCondition, metav1.ConditionUnknown, droverv1.ProdClusterReachableUnknownReason)}, want: PhaseUnreachable},
		{name: "not judged", conds: []metav1.Condition{reachable, applied, cond(droverv1.ProdAvailableCondition, metav1.ConditionUnknown, droverv1.ProdAvailabilityUnknownReason)}, want: PhaseProgressing},
		{name: "deleting", deleting: true, conds: []metav1.Condition{cond(droverv1.ProdClusterReachableCondition, metav1.ConditionFalse, droverv1.ProdClusterProbeFailingReason)}, want: PhaseDeleting},
	} {
		p := &droverv1.Prod{}
		p.Status.Conditions = tc.conds
		if tc.deleting {
			p.DeletionTimestamp = &now
		}
		if got := Phase(p); got != tc.want {
			t.Errorf("%s: Phase = %s, want %s", tc.name, got, tc.want)
		}
	}
}
