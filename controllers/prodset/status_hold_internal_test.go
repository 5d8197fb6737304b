package prodset

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// A status change that only moves transient counts waits when the set's status was
// written less than statusHold ago; any other change, or a loss of availability, is
// written at once.
func TestStatusHoldsOnlyTransientCounts(t *testing.T) {
	base := func() *droverv1.ProdSet {
		set := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "uid"}}
		set.Status.Replicas, set.Status.AvailableReplicas = 2, 1
		set.Status.Conditions = []metav1.Condition{{Type: droverv1.ProdSetAvailableCondition, Status: metav1.ConditionTrue,
			Reason: droverv1.ProdSetDegradedReason, Message: "1 of 2 Prods serving"}}
		set.Status.Prods = []droverv1.ProdSummary{
			{Name: "a", Weight: ptr.To[int32](100), Available: metav1.ConditionTrue, Reachable: metav1.ConditionTrue},
			{Name: "b", Weight: ptr.To[int32](100), Available: metav1.ConditionUnknown},
		}
		return set
	}
	landed := func(s *droverv1.ProdSet) {
		s.Status.ReadyReplicas = 2
		s.Status.Prods[1].Reachable = metav1.ConditionTrue
		s.Status.Conditions[0].Message = "1 of 2 Prods serving; b applied"
	}
	cases := []struct {
		name   string
		change func(*droverv1.ProdSet)
		held   bool
	}{
		{"nothing changed", func(*droverv1.ProdSet) {}, false},
		{"a Prod landed", landed, true},
		{"a Prod available, counts and message", func(s *droverv1.ProdSet) {
			s.Status.AvailableReplicas, s.Status.ServingReplicas = 2, 2
			s.Status.Prods[1].Available = metav1.ConditionTrue
		}, true},
		{"a condition's reason", func(s *droverv1.ProdSet) {
			landed(s)
			s.Status.Conditions[0].Reason = droverv1.ProdSetAvailableReason
		}, false},
		{"a Prod no longer available", func(s *droverv1.ProdSet) { s.Status.Prods[0].Available = metav1.ConditionFalse }, false},
		{"a Prod no longer reachable", func(s *droverv1.ProdSet) { s.Status.Prods[0].Reachable = metav1.ConditionUnknown }, false},
		{"a weight", func(s *droverv1.ProdSet) { landed(s); s.Status.Prods[1].Weight = ptr.To[int32](0) }, false},
		{"a published weight", func(s *droverv1.ProdSet) { landed(s); s.Status.Prods[1].PublishedWeight = ptr.To[int32](100) }, false},
		{"a Prod more", func(s *droverv1.ProdSet) { s.Status.Prods = append(s.Status.Prods, droverv1.ProdSummary{Name: "c"}) }, false},
		{"the traffic", func(s *droverv1.ProdSet) {
			landed(s)
			s.Status.Traffic = &droverv1.ProdSetTrafficStatus{ChangeID: "c1"}
		}, false},
		{"the generation observed", func(s *droverv1.ProdSet) { landed(s); s.Status.ObservedGeneration = 2 }, false},
	}
	now := time.Now()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h statusHolds
			before := base()
			set := before.DeepCopy()
			tc.change(set)
			if wait := h.hold(set, &before.Status, now); wait != 0 {
				t.Errorf("with no write before, held %s", wait)
			}
			h.wrote(set.UID, now.Add(-time.Second))
			wait := h.hold(set, &before.Status, now)
			if held := wait > 0; held != tc.held {
				t.Fatalf("a second after a write: held %s, want held %v", wait, tc.held)
			}
			if tc.held && wait != statusHold-time.Second {
				t.Errorf("held %s, want until statusHold after the write (%s)", wait, statusHold-time.Second)
			}
			if wait := h.hold(set, &before.Status, now.Add(statusHold)); wait != 0 {
				t.Errorf("statusHold after the write: held %s, want written", wait)
			}
			deleting := set.DeepCopy()
			deleting.DeletionTimestamp = &metav1.Time{Time: now}
			if wait := h.hold(deleting, &before.Status, now); wait != 0 {
				t.Errorf("a set being deleted: held %s", wait)
			}
			h.forget(set.UID)
			if wait := h.hold(set, &before.Status, now); wait != 0 {
				t.Errorf("a forgotten set: held %s", wait)
			}
		})
	}
}
