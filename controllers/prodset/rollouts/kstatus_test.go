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
	"github.com/drover-dev/drover/config/argocd"
	"github.com/drover-dev/drover/internal/test/checkserver"
)

// read reads obj from the API server as any tool does (unstructured).
func read(g Gomega, kind string, obj client.Object) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(droverv1.GroupVersion.WithKind(kind))
	g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(obj), u)).To(Succeed())
	return u
}

// kstatusOf is what kstatus, which Flux's health checks and cli-utils use, makes of obj
// as the API server has it.
func kstatusOf(g Gomega, kind string, obj client.Object) *status.Result {
	res, err := status.Compute(read(g, kind, obj))
	g.Expect(err).NotTo(HaveOccurred())
	return res
}

// expectKStatus waits until kstatus reads want of obj, and checks that drover's Argo CD
// health check, run by the Lua VM Argo CD uses, reads argo of the same object.
func expectKStatus(g Gomega, kind string, obj client.Object, want status.Status, argo string, timeout time.Duration) *status.Result {
	var res *status.Result
	g.Eventually(func(g Gomega) {
		u := read(g, kind, obj)
		var err error
		res, err = status.Compute(u)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Status).To(Equal(want), "%s %s: %s", kind, obj.GetName(), res.Message)
		health, msg, err := argocd.Health(u)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(health).To(Equal(argo), "Argo CD health of %s %s: %s", kind, obj.GetName(), msg)
	}, timeout, 250*time.Millisecond).Should(Succeed())
	return res
}

// A release as Flux, kubectl wait, cli-utils and Argo CD see it, read from the objects of
// a real run by kstatus and by drover's Argo CD health checks in the Lua VM Argo CD uses:
// the set is Current (Healthy) when it serves, InProgress (Progressing) while a rollout
// waits for its approval, Current again once promoted through drover's Argo CD action and
// rolled out, and Failed (Degraded) once a bad version is rolled back, with the reason;
// its policy and Prods are Current throughout.
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
	expectKStatus(g, "ProdSet", set, status.CurrentStatus, "Healthy", 30*time.Second)
	expectKStatus(g, "RolloutPolicy", policy, status.CurrentStatus, "Healthy", 10*time.Second)
	for _, p := range byCluster(g, set) {
		expectKStatus(g, "Prod", &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: set.Namespace, Name: p}}, status.CurrentStatus, "Healthy", 10*time.Second)
	}

	v2 := ship(t, set, "v2")
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.Rollout).NotTo(BeNil())
		g.Expect(s.Status.Rollout.Revision).To(Equal(v2))
		g.Expect(s.Status.Rollout.Message).To(ContainSubstring("waiting for approval"))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
	res := expectKStatus(g, "ProdSet", set, status.InProgressStatus, "Progressing", 10*time.Second)
	g.Consistently(func(g Gomega) {
		g.Expect(kstatusOf(g, "ProdSet", set).Status).To(Equal(status.InProgressStatus), "a rollout waiting for its approval is in progress")
	}, 2*time.Second, 250*time.Millisecond).Should(Succeed())
	t.Logf("waiting for approval: %s", res.Message)

	// Promoted through drover's Argo CD action, as Argo CD runs it: the script's object is
	// written back.
	g.Eventually(func(g Gomega) {
		u := read(g, "ProdSet", set)
		actions, err := argocd.Actions(u)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(actions).To(HaveKeyWithValue("promote", false), "promote is offered")
		g.Expect(actions).To(HaveKeyWithValue("resume", true), "resume is not: the rollout is not paused")
		promoted, err := argocd.RunAction(u, "promote")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cp.Update(context.Background(), promoted)).To(Succeed()) // a conflict reads again
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	waitPhase(t, set, v2, droverv1.RolloutSucceeded, 120*time.Second)
	expectKStatus(g, "ProdSet", set, status.CurrentStatus, "Healthy", 30*time.Second)

	v3 := ship(t, set, "v3")
	waitPhase(t, set, v3, droverv1.RolloutRolledBack, 120*time.Second)
	res = expectKStatus(g, "ProdSet", set, status.FailedStatus, "Degraded", 30*time.Second)
	g.Expect(res.Message).To(ContainSubstring("RolledBack"))
	s := getSet(g, set)
	g.Expect(s.Status.Conditions).To(ContainElement(And(HaveField("Type", droverv1.ReadyCondition), HaveField("Status", metav1.ConditionFalse))),
		"kubectl wait --for=condition=Ready would not return")
	for _, p := range byCluster(g, set) {
		expectKStatus(g, "Prod", &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: set.Namespace, Name: p}}, status.CurrentStatus, "Healthy", 60*time.Second)
	}
	expectKStatus(g, "RolloutPolicy", policy, status.CurrentStatus, "Healthy", 10*time.Second)
}
