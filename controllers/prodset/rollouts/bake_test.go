package rollouts_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// A release engineer bakes the canary for a while before the next step, and gives the
// approval step ten seconds: nobody approves, so the release is rolled back by its
// deadline.
func TestBakeThenAProgressDeadlineRollsBack(t *testing.T) {
	g := NewWithT(t)
	newPolicy(t, "baked", droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.RollbackFailurePolicy,
		Steps: []droverv1.RolloutStep{
			{Name: "canary", Count: ptr.To(intstr.FromInt32(1)), MinHealthyTime: &metav1.Duration{Duration: 5 * time.Second}},
			{Name: "approve", Count: ptr.To(intstr.FromInt32(1)), ProgressDeadline: &metav1.Duration{Duration: 10 * time.Second},
				Gates: []droverv1.Gate{{Approval: &droverv1.ApprovalGate{Message: "within ten seconds"}}}},
			{Name: "rest"},
		},
	})
	ps := newSet(t, "baked", "baked", 3)
	v2 := ship(t, ps, "v2")

	// The canary step holds until its Prod has been available 5 s.
	var healthySince time.Time
	var left time.Time
	g.Eventually(func(g Gomega) {
		s := getSet(g, ps)
		ro := s.Status.Rollout
		g.Expect(ro).NotTo(BeNil())
		g.Expect(ro.Revision).To(Equal(v2))
		if ro.StepName == "canary" && ro.HealthySinceTime != nil {
			healthySince = ro.HealthySinceTime.Time
		}
		g.Expect(ro.StepName).To(Equal("approve"))
		left = time.Now()
	}, 90*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Expect(healthySince.IsZero()).To(BeFalse(), "the canary's healthy time was recorded")
	g.Expect(left.Sub(healthySince)).To(BeNumerically(">=", 5*time.Second), "the canary step passed before its minHealthyTime")

	// Nobody approves: 10 s after the approval step began it fails, and v2 is rolled back.
	s := waitPhase(t, ps, v2, droverv1.RolloutRolledBack, 90*time.Second)
	g.Expect(s.Status.Rollout.Message).To(And(ContainSubstring("did not pass within its progressDeadline 10s"),
		ContainSubstring("waiting for approval (promote): within ten seconds")))
	g.Expect(s.Status.Rollout.FailedTime).NotTo(BeNil())
	g.Eventually(func(g Gomega) {
		for _, p := range getSet(g, ps).Status.Prods {
			g.Expect(p.Version).NotTo(Equal("v2"), p.Name)
		}
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
}
