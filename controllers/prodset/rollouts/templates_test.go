package rollouts_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/checkserver"
)

// The platform team writes a health check once, as a ClusterAnalysisTemplate with
// arguments; a release engineer uses it from a policy, with a check of their own
// namespace's. A policy naming a template that does not exist yet is not accepted, and is
// as soon as the template appears; one that leaves out an argument is not. The release
// runs the templates' gates with the arguments given.
func TestAnalysisTemplatesAreUsedWithArguments(t *testing.T) {
	g := NewWithT(t)
	checks := checkserver.New(t)
	u, err := url.Parse(checks.URL())
	g.Expect(err).NotTo(HaveOccurred())

	health := &droverv1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "platform-health"}, Spec: droverv1.AnalysisTemplateSpec{
		Args: []droverv1.AnalysisArg{{Name: "host"}, {Name: "team", Value: ptr.To("nobody")}},
		Gate: droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{
			URL:   "http://{{ .Args.host }}" + u.Path + "?prod={{ .Prod }}&version={{ .Args.team }}-{{ .Version }}",
			Tries: 1, ExpectedStatus: 200, SuccessPercent: 100,
			Interval: &metav1.Duration{Duration: 100 * time.Millisecond}, Timeout: &metav1.Duration{Duration: 2 * time.Second},
		}},
	}}
	g.Expect(cp.Create(ctx(), health)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(ctx(), health) })

	policy := newPolicy(t, "templated", droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.RollbackFailurePolicy,
		Steps: []droverv1.RolloutStep{
			{Name: "canary", Count: ptr.To(intstr.FromInt32(1)), Gates: []droverv1.Gate{
				{Template: &droverv1.TemplateGate{Name: "platform-health", Cluster: true,
					Args: []droverv1.TemplateArg{{Name: "host", Value: u.Host}, {Name: "team", Value: "shop"}}}},
				{Template: &droverv1.TemplateGate{Name: "own-check"}},
			}},
			{Name: "rest"},
		},
	})
	accepted := func(g Gomega, name string) *metav1.Condition {
		p := &droverv1.RolloutPolicy{}
		g.Expect(cp.Get(ctx(), client.ObjectKey{Namespace: bed.Namespace, Name: name}, p)).To(Succeed())
		c := conditions.Get(p, droverv1.RolloutPolicyAcceptedCondition)
		g.Expect(c).NotTo(BeNil())
		return c
	}
	g.Eventually(func(g Gomega) {
		c := accepted(g, policy.Name)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Message).To(ContainSubstring(`spec.steps[0] (canary).gates[1].template: AnalysisTemplate "own-check" not found`))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	// The namespace's own template appears: the policy is accepted without being touched.
	own := &droverv1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: "own-check"}, Spec: droverv1.AnalysisTemplateSpec{
		Gate: droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{URL: checks.Template(), Tries: 1, ExpectedStatus: 200, SuccessPercent: 100,
			Interval: &metav1.Duration{Duration: 100 * time.Millisecond}, Timeout: &metav1.Duration{Duration: 2 * time.Second}}},
	}}
	g.Expect(cp.Create(ctx(), own)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(ctx(), own) })
	g.Eventually(func(g Gomega) {
		g.Expect(accepted(g, policy.Name).Status).To(Equal(metav1.ConditionTrue))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	// A policy leaving out the host is not accepted.
	newPolicy(t, "templated-incomplete", droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{{Name: "canary", Gates: []droverv1.Gate{
		{Template: &droverv1.TemplateGate{Name: "platform-health", Cluster: true}}}}}})
	g.Eventually(func(g Gomega) {
		c := accepted(g, "templated-incomplete")
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Message).To(ContainSubstring(`argument "host" of ClusterAnalysisTemplate "platform-health" is not given and has no default`))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	// The release runs both gates, the platform's with the arguments given.
	ps := newSet(t, "templated", "templated", 2)
	v2 := ship(t, ps, "v2")
	s := waitPhase(t, ps, v2, droverv1.RolloutSucceeded, 120*time.Second)
	g.Expect(s.Status.Rollout.Gates).To(HaveLen(2))
	for _, gate := range s.Status.Rollout.Gates {
		g.Expect(gate.Type).To(Equal("httpCheck"))
		g.Expect(gate.Passed).To(BeTrue(), gate.Message)
	}
	var versions []string
	for _, a := range checks.Answers() {
		versions = append(versions, a.Version)
	}
	g.Expect(versions).To(ContainElement("shop-v2"), "the platform's check ran with team=shop: %s", strings.Join(versions, " "))
	g.Expect(versions).To(ContainElement("v2"), "the namespace's check ran")
}
