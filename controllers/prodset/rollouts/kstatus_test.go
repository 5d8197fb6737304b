package rollouts_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/checkserver"
)

// kstatusOf reads obj from the API server as any tool does (unstructured) and returns
// what kstatus, which Flux's health checks and cli-utils use, makes of it.
func kstatusOf(g Gomega, kind string, obj client.Object) *status.Result {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(droverv1.GroupVersion.WithKind(kind))
	g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(obj), u)).To(Succeed())
	res, err := status.Compute(u)
	g.Expect(err).NotTo(HaveOccurred())
	return res
}

func expectKStatus(g Gomega, kind string, obj client.Object, want status.Status, timeout time.Duration) *status.Result {
	var res *status.Result
	g.Eventually(func(g Gomega) {
		res = kstatusOf(g, kind, obj)
		g.Expect(res.Status).To(Equal(want), "%s %s: %s", kind, obj.GetName(), res.Message)
	}, timeout, 250*time.Millisecond).Should(Succeed())
	return res
}

// A release as Flux, kubectl wait and cli-utils see it, read by kstatus from the objects
// of a real run: the set is Current when it serves, InProgress while a rollout waits for
// its approval, Current once promoted and rolled out, and Failed once a bad version is
// rolled back, with the reason; its policy and Prods are Current throughout.
func TestKStatusReadsEveryStageOfARelease(t *testing.T) {
	g := NewWithT(t)
	checks := checkserver.New(t)
	checks.Fail("v3")
	policy := newPolicy(t, "stages", droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.RollbackFailurePolicy,
		Steps: []droverv1.RolloutStep{
			{Name: "canary", Selector: clusterIs(eu1), Gates: []droverv1.Gate{
				{HTTPCheck: &droverv1.HTTPCheckGate{URL: checks.Template(), ExpectedStatus: 200, Tries: 2, SuccessPercent: 100,
					Interval: &metav1.Duration{Duration: 500 * time.Millisecond}, Timeout: &metav1.Duration{Duration: time.Second}}},
				{Approval: &droverv1.ApprovalGate{Message: "look at the canary"}},
			}},
			{Name: "rest", MaxParallel: ptr.To(intstr.FromInt32(1))},
		},
	})
	set := newSet(t, "stages", "stages", 3)
	expectKStatus(g, "ProdSet", set, status.CurrentStatus, 30*time.Second)
	expectKStatus(g, "RolloutPolicy", policy, status.CurrentStatus, 10*time.Second)
	for _, p := range byCluster(g, set) {
		expectKStatus(g, "Prod", &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: set.Namespace, Name: p}}, status.CurrentStatus, 10*time.Second)
	}

	v2 := ship(t, set, "v2")
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.Rollout).NotTo(BeNil())
		g.Expect(s.Status.Rollout.Revision).To(Equal(v2))
		g.Expect(s.Status.Rollout.Message).To(ContainSubstring("waiting for approval"))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
	res := expectKStatus(g, "ProdSet", set, status.InProgressStatus, 10*time.Second)
	g.Consistently(func(g Gomega) {
		g.Expect(kstatusOf(g, "ProdSet", set).Status).To(Equal(status.InProgressStatus), "a rollout waiting for its approval is in progress")
	}, 2*time.Second, 250*time.Millisecond).Should(Succeed())
	t.Logf("waiting for approval: %s", res.Message)

	command(t, set, "promote")
	waitPhase(t, set, v2, droverv1.RolloutSucceeded, 120*time.Second)
	expectKStatus(g, "ProdSet", set, status.CurrentStatus, 30*time.Second)

	v3 := ship(t, set, "v3")
	waitPhase(t, set, v3, droverv1.RolloutRolledBack, 120*time.Second)
	res = expectKStatus(g, "ProdSet", set, status.FailedStatus, 30*time.Second)
	g.Expect(res.Message).To(ContainSubstring("RolledBack"))
	s := getSet(g, set)
	g.Expect(s.Status.Conditions).To(ContainElement(And(HaveField("Type", droverv1.ReadyCondition), HaveField("Status", metav1.ConditionFalse))),
		"kubectl wait --for=condition=Ready would not return")
	for _, p := range byCluster(g, set) {
		expectKStatus(g, "Prod", &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: set.Namespace, Name: p}}, status.CurrentStatus, 60*time.Second)
	}
	expectKStatus(g, "RolloutPolicy", policy, status.CurrentStatus, 10*time.Second)
}
