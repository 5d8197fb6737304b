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
	"github.com/drover-dev/drover/controllers/prodset"
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

	// The release engineer ships v2 under a field manager of its own: its Release
	// names it.
	var v2 string
	g.Eventually(func() error {
		s := getSet(g, set)
		s.Spec.Template.Spec.Version = "v2"
		v2 = prodset.Revision(&s.Spec.Template)
		return cp.Update(context.Background(), s, client.FieldOwner("release-engineer"))
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.Rollout).NotTo(BeNil())
		g.Expect(s.Status.Rollout.Revision).To(Equal(v2))
		g.Expect(s.Status.Rollout.Message).To(ContainSubstring("waiting for approval"))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		rel := releaseOf(g, set, v2)
		g.Expect(rel.StartedBy).To(Equal("release-engineer"))
		g.Expect(rel.Version).To(Equal("v2"))
		g.Expect(rel.Phase).To(Equal(droverv1.RolloutProgressing))
		g.Expect(rel.Outcome).To(BeEmpty())
		g.Expect(rel.Steps).To(HaveLen(1))
		g.Expect(rel.Steps[0].Name).To(Equal("canary"))
		g.Expect(rel.Steps[0].FinishedTime).To(BeNil())
		g.Expect(rel.Steps[0].Gates).To(BeEmpty(), "a step's passing verdicts are recorded as it passes")
		g.Expect(rel.Steps[0].Prods).To(ConsistOf(HaveField("Cluster", bed.Namespace+"/"+eu1)))
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	expectSetEvent(g, set, "RolloutAwaitingApproval", "step 1 (canary): step canary: gate 2 (approval): waiting for approval (promote): look at the canary")
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
		g.Expect(cp.Update(context.Background(), promoted, client.FieldOwner("argocd-server"))).To(Succeed()) // a conflict reads again
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	waitPhase(t, set, v2, droverv1.RolloutSucceeded, 120*time.Second)
	expectKStatus(g, "ProdSet", set, status.CurrentStatus, "Healthy", 30*time.Second)
	expectSetEvent(g, set, "RolloutCommand", "promote of revision "+v2+" at step 1, set by argocd-server")
	// The Release of v2 says who promoted it, and each step with its Prods at the
	// weight DNS gave them when it ended.
	g.Eventually(func(g Gomega) {
		rel := releaseOf(g, set, v2)
		g.Expect(rel.Outcome).To(Equal(droverv1.ReleaseCompleted))
		g.Expect(rel.FinishedTime).NotTo(BeNil())
		g.Expect(rel.Commands).To(ConsistOf(And(HaveField("Command", "promote"), HaveField("By", "argocd-server"), HaveField("Step", int32(0)))))
		g.Expect(rel.Steps).To(HaveLen(2))
		g.Expect(rel.Steps[0].Gates).To(HaveLen(2))
		g.Expect(rel.Steps[1].Name).To(Equal("rest"))
		g.Expect(rel.Steps[1].Prods).To(HaveLen(2))
		for _, st := range rel.Steps {
			g.Expect(st.FinishedTime).NotTo(BeNil())
			for _, p := range st.Prods {
				g.Expect(p.Weight).To(HaveValue(BeNumerically(">", 0)), "Prod %s serves once its step passed", p.Name)
			}
		}
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	// It is the set's one Release: a limit of 1 keeps only the next.
	g.Eventually(func() error {
		s := getSet(g, set)
		s.Spec.ReleaseHistoryLimit = ptr.To[int32](1)
		return cp.Update(context.Background(), s)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())

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

	// v3's Release says why it rolled back; v2's went, past the limit of 1.
	g.Eventually(func(g Gomega) {
		rel := releaseOf(g, set, v3)
		g.Expect(rel.Outcome).To(Equal(droverv1.ReleaseRolledBack))
		g.Expect(rel.EndedBy).To(BeEmpty(), "a gate rolled it back, not a person")
		g.Expect(rel.Message).To(ContainSubstring("rolled back"))
		g.Expect(rel.Steps).To(HaveLen(1))
		g.Expect(rel.Steps[0].Gates).To(ContainElement(And(HaveField("Type", "httpCheck"), HaveField("Passed", false))))
		g.Expect(rel.RollbackLatency).NotTo(BeNil())
		list := &droverv1.ReleaseList{}
		g.Expect(cp.List(context.Background(), list, client.InNamespace(set.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name})).To(Succeed())
		g.Expect(list.Items).To(ConsistOf(HaveField("Revision", v3)))
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
}

// releaseOf is the newest Release of set's revision rev.
func releaseOf(g Gomega, set *droverv1.ProdSet, rev string) *droverv1.Release {
	list := &droverv1.ReleaseList{}
	g.Expect(cp.List(context.Background(), list, client.InNamespace(set.Namespace),
		client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name, droverv1.ReleaseLabel: rev})).To(Succeed())
	g.Expect(list.Items).NotTo(BeEmpty(), "no Release of revision %s", rev)
	newest := &list.Items[0]
	for i := range list.Items {
		if list.Items[i].StartedTime.After(newest.StartedTime.Time) {
			newest = &list.Items[i]
		}
	}
	return newest
}
