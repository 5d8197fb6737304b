package rollouts_test

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// One of the first step's two Prods cannot start its new version (its cluster's only
// node is cordoned): past the step's progressDeadline, maxFailures 1 lets the rollout go
// on without it, out of traffic; once the node is back it comes back, on the new version.
func TestMaxFailuresGoesOnWithoutAProdThatCannotStart(t *testing.T) {
	g := NewWithT(t)
	newPolicy(t, "tolerant", droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.RollbackFailurePolicy,
		Steps: []droverv1.RolloutStep{
			{Name: "eu", Selector: regionIs("eu"), MaxParallel: ptr.To(intstr.FromInt32(2)),
				ProgressDeadline: &metav1.Duration{Duration: 20 * time.Second}, MaxFailures: ptr.To[int32](1)},
			{Name: "rest"},
		},
	})
	ps := newSet(t, "tolerant", "tolerant", 4)
	prods := byCluster(g, ps)
	stuck := prods[eu1]
	cordon(t, eu1, true)
	t.Cleanup(func() { cordon(t, eu1, false) })

	v2 := ship(t, ps, "v2")
	s := waitPhase(t, ps, v2, droverv1.RolloutSucceeded, 150*time.Second)
	var failed []string
	for _, p := range s.Status.Rollout.Prods {
		if p.Failed {
			failed = append(failed, p.Name)
		}
	}
	g.Expect(failed).To(Equal([]string{stuck}), "only the Prod that cannot start is failed: %+v", s.Status.Rollout.Prods)
	g.Eventually(func(g Gomega) {
		recs := records(g, ps)
		for cluster, name := range prods {
			want := int32(100)
			if name == stuck {
				want = 0
			}
			g.Expect(recs).To(HaveKeyWithValue(ps.Namespace+"/"+name, want), "%s on %s", name, cluster)
		}
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

	// The node is back: the Prod starts its new version and serves again.
	cordon(t, eu1, false)
	g.Eventually(func(g Gomega) {
		s := getSet(g, ps)
		for _, p := range s.Status.Rollout.Prods {
			if p.Name == stuck {
				g.Expect(p.Failed).To(BeFalse())
				g.Expect(p.Phase).To(BeEquivalentTo("Done"))
			}
		}
		g.Expect(records(g, ps)).To(HaveKeyWithValue(ps.Namespace+"/"+stuck, BeEquivalentTo(100)))
	}, 120*time.Second, 250*time.Millisecond).Should(Succeed())
}

// cordon marks the nodes of the named workload cluster unschedulable, or schedulable.
func cordon(t *testing.T, cluster string, on bool) {
	t.Helper()
	for _, w := range bed.Workloads {
		if w.Name != cluster {
			continue
		}
		for _, n := range w.Nodes {
			patch := fmt.Appendf(nil, `{"spec":{"unschedulable":%t}}`, on)
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}
			NewWithT(t).Expect(w.Client.Patch(ctx(), node, client.RawPatch(types.MergePatchType, patch))).To(Succeed())
		}
		return
	}
	t.Fatalf("no workload cluster %s", cluster)
}
