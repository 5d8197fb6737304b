package rollouts_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/checkserver"
	"github.com/drover-dev/drover/internal/test/clouds/prometheustest"
	"github.com/drover-dev/drover/internal/test/dnsbed"
)

func clusterIs(name string) *droverv1.LabelSelector {
	return &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{droverv1.ClusterNameLabel: droverv1.LabelValue(name)}}
}

func regionIs(r string) *droverv1.LabelSelector {
	return &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{region: droverv1.LabelValue(r)}}
}

// A release engineer ships v2 through a three-step policy: the test Prod first at a
// canary weight behind an HTTP check, then the least used US Prod behind a Prometheus
// query and an approval, then the rest one at a time. The manager is
// killed mid-rollout and restarted. Then v3 fails its Prometheus gate at step 2 and
// the traffic goes back to v2 in one DNS change.
func TestReleaseThroughThePolicyThenRollBackByTraffic(t *testing.T) {
	g := NewWithT(t)
	checks := checkserver.New(t)
	metrics := prometheustest.NewExporter(t)
	metrics.Set("shop_error_ratio", map[string]string{"version": "v1"}, 0.001)
	metrics.Set("shop_error_ratio", map[string]string{"version": "v2"}, 0.002)
	metrics.Set("shop_error_ratio", map[string]string{"version": "v3"}, 0.3)
	prom := prometheustest.Start(t, prometheustest.Options{ScrapeTargets: []string{metrics.Addr()}, ScrapeInterval: 500 * time.Millisecond})
	prom.WaitForQuery(t, `shop_error_ratio{version="v3"}`, 30*time.Second)

	newPolicy(t, "release", droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.RollbackFailurePolicy,
		Steps: []droverv1.RolloutStep{
			{Name: "test", Selector: clusterIs(eu1), Weight: ptr.To[int32](10), Gates: []droverv1.Gate{{HTTPCheck: &droverv1.HTTPCheckGate{
				// 3 s: the gate starts once the canary is available, not once its weight is in
				// DNS, so a gate shorter than a Route53 change could pass before the step's
				// weight 10 was ever published.
				URL: checks.URL() + "?prod={{ .Prod }}", ExpectedStatus: 200, Tries: 3, SuccessPercent: 100,
				Interval: &metav1.Duration{Duration: 1500 * time.Millisecond}, Timeout: &metav1.Duration{Duration: time.Second},
			}}}},
			{Name: "us", Selector: regionIs("us"), Order: droverv1.LeastTrafficFirstOrder, Count: ptr.To(intstr.FromInt32(1)),
				Gates: []droverv1.Gate{{Prometheus: &droverv1.PrometheusGate{
					Address: prom.URL(), Query: `max(shop_error_ratio{version="{{ .Version }}"})`, Comparison: "<", Threshold: "0.01",
					Window: &metav1.Duration{Duration: 2 * time.Second}, Interval: &metav1.Duration{Duration: 500 * time.Millisecond},
				}}, {Approval: &droverv1.ApprovalGate{Message: "look at the dashboards"}}}},
			{Name: "rest", MaxParallel: ptr.To(intstr.FromInt32(1))},
		},
	})
	set := newSet(t, "shop", "release", 4)
	prods := byCluster(g, set)
	g.Expect(prods).To(HaveLen(4))
	v1 := getSet(g, set).Status.CurrentRevision
	revisions := watchRevisions(t, set)
	changesBefore := len(dns.Changes())

	// v2.
	v2 := ship(t, set, "v2")
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.Rollout.Revision).To(Equal(v2))
		g.Expect(s.Status.Rollout.Step).To(BeEquivalentTo(1))
		g.Expect(s.Status.Rollout.Prods).To(ContainElement(HaveField("Phase", Equal(droverv1.RolloutProdPhase("Updating")))))
	}, 90*time.Second, 100*time.Millisecond).Should(Succeed())
	restartManager(t) // mid step 2: the US Prod is being updated

	// After the Prometheus gate, the approval holds the last step until promoted.
	s := waitPhase(t, set, v2, droverv1.RolloutProgressing, time.Second)
	g.Eventually(func(g Gomega) {
		s = getSet(g, set)
		g.Expect(s.Status.Rollout.StepName).To(Equal("us"))
		g.Expect(s.Status.Rollout.Message).To(And(ContainSubstring("look at the dashboards"), Not(ContainSubstring("prometheus"))))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.Rollout.StepName).To(Equal("us"))
		g.Expect(revisions()).To(HaveLen(2), "the rest waits for the approval: rollout %+v", s.Status.Rollout)
	}, 2*time.Second, 250*time.Millisecond).Should(Succeed())
	command(t, set, "promote")
	s = waitPhase(t, set, v2, droverv1.RolloutSucceeded, 90*time.Second)
	g.Expect(conditions.IsTrue(s, droverv1.ProdSetRolledOutCondition)).To(BeTrue())

	// Order: the test Prod, then the US ones, then the rest; each moved once.
	var order []string
	for _, tr := range revisions() {
		g.Expect(tr.revision).To(Equal(v2), "%s moved to %s", tr.prod, tr.revision)
		order = append(order, tr.prod)
	}
	g.Expect(order).To(Equal([]string{prods[eu1], prods[us1], prods[eu2], prods[us2]}), "each Prod moves once, in the policy's order")
	moved := revisions()

	// The HTTP check asked the test Prod only, and before anything else moved.
	reqs := checks.Answers()
	g.Expect(reqs).To(HaveLen(3))
	for _, r := range reqs {
		g.Expect(r.Prod).To(Equal(prods[eu1]))
		g.Expect(r.At).To(BeTemporally("<", moved[1].at), "step 2 starts only after the HTTP check passed")
	}
	// Gates: one verdict each, the Prometheus one after its window.
	g.Expect(s.Status.Rollout.Gates).To(HaveLen(3))
	for i, want := range []string{"httpCheck", "prometheus", "approval"} {
		gate := s.Status.Rollout.Gates[i]
		g.Expect(gate.Type).To(Equal(want))
		g.Expect(gate.Passed).To(BeTrue(), "%s: %s", want, gate.Message)
	}
	g.Expect(s.Status.Rollout.Gates[1].Message).To(ContainSubstring("held for 2s"))
	g.Expect(s.Status.Rollout.Gates[2].Message).To(Equal("promoted"))

	// DNS: the canary served at 10; at no moment was more than one Prod out of traffic
	// (maxParallel 1 and one step at a time), and each left traffic exactly once.
	prev, history := weightHistory(set, changesBefore)
	sawCanary := false
	zeroed := map[string]int{}
	for _, records := range history {
		out := 0
		for name, w := range records {
			if w == 0 {
				out++
				if prev[name] != 0 {
					zeroed[name]++
				}
			}
			if name == prods[eu1] && w == 10 {
				sawCanary = true
			}
		}
		g.Expect(out).To(BeNumerically("<=", 1), "records %v", records)
		prev = records
	}
	g.Expect(sawCanary).To(BeTrue(), "the test Prod served at the step's weight 10")
	for _, name := range prods {
		g.Expect(zeroed[name]).To(Equal(1), "%s left traffic %d times", name, zeroed[name])
	}
	// Route53 has every Prod back at 100 (Succeeded is reported once the last Prod is
	// available, not once its weight is INSYNC: wait for it).
	g.Eventually(func(g Gomega) {
		recs := records(g, set)
		g.Expect(recs).To(HaveLen(4))
		for id, w := range recs {
			g.Expect(w).To(BeEquivalentTo(100), id)
		}
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	// v3 fails its Prometheus gate in step 2: the new-version Prods leave traffic in one
	// change, then go back to v2. RolledBack is reported only once Route53 said that
	// change INSYNC (the proxy keeps it PENDING for the propagation).
	changesBefore = len(dns.Changes())
	shipped := time.Now()
	v3 := ship(t, set, "v3")
	g.Eventually(func(g Gomega) {
		g.Expect(getSet(g, set).Status.Rollout).To(And(HaveField("Revision", v3), HaveField("StepName", "us")))
	}, 90*time.Second, 100*time.Millisecond).Should(Succeed(), "v3 reaches its step 2")
	rolledBackV3 := dnsbed.WaitReported(t, "the rollback of v3", rolledBack(set, v3),
		changeTakingOut(set, shipped, set.Namespace+"/"+prods[eu1], set.Namespace+"/"+prods[us1]), 0, propagation)
	t.Logf("rollback of v3: change INSYNC %s after it was submitted, RolledBack seen %s after INSYNC",
		rolledBackV3.ReportedInSync.Sub(rolledBackV3.Submitted).Round(time.Millisecond), rolledBackV3.Reported.Sub(rolledBackV3.ReportedInSync).Round(time.Millisecond))
	s = waitPhase(t, set, v3, droverv1.RolloutRolledBack, 120*time.Second)
	ro := s.Status.Rollout
	g.Expect(ro.PreviousRevision).To(Equal(v2))
	g.Expect(ro.Message).To(And(ContainSubstring("gate failed"), ContainSubstring("prometheus"), ContainSubstring("does not hold")))
	g.Expect(ro.RollbackLatency).NotTo(BeNil())
	g.Expect(ro.RollbackSubmittedTime.Time).To(BeTemporally(">=", ro.FailedTime.Time))
	t.Logf("rollback: gate failed at %s, traffic change submitted %s later", ro.FailedTime.Format(time.RFC3339Nano), ro.RollbackLatency.Duration)
	g.Expect(ro.RollbackLatency.Duration).To(BeNumerically("<", 5*time.Second))
	// One change took eu-1 and us-1, the v3 Prods, out together: on the wire, as the
	// proxy in front of moto saw it, the only change to the set's zone from the
	// rollback's hand-off until Route53 said it was INSYNC. (A change already in flight
	// when the gate failed, such as the one putting us-1 back in traffic, whose gate
	// started once it was available, goes first.)
	expectOneChange(t, set, ro.RollbackSubmittedTime.Time, set.Namespace+"/"+prods[eu1], set.Namespace+"/"+prods[us1])
	_, history = weightHistory(set, changesBefore)
	together := slices.ContainsFunc(history, func(r map[string]int32) bool {
		return r[prods[eu1]] == 0 && r[prods[us1]] == 0
	})
	g.Expect(together).To(BeTrue(), "the v3 Prods leave traffic in one change: %v", history)
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.ServingReplicas).To(BeEquivalentTo(4))
		for _, p := range s.Status.Prods {
			g.Expect(p.Revision).To(Equal(v2), "%s", p.Name)
			g.Expect(p.Version).To(Equal("v2"))
		}
		for _, w := range records(g, set) {
			g.Expect(w).To(BeEquivalentTo(100))
		}
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(conditions.Get(s, droverv1.ProdSetRolledOutCondition).Reason).To(Equal(droverv1.ProdSetRolledBackReason))
	// The rollback latency and the gate verdicts are on the metrics endpoint.
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	seen := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "drover_rollout_rollback_latency_seconds":
				seen[f.GetName()] += float64(m.GetHistogram().GetSampleCount())
			case "drover_rollout_gate_results_total":
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				seen[labels["type"]+"/"+labels["result"]] += m.GetCounter().GetValue()
			}
		}
	}
	g.Expect(seen).To(HaveKeyWithValue("drover_rollout_rollback_latency_seconds", BeNumerically(">=", 1)))
	g.Expect(seen).To(HaveKeyWithValue("prometheus/failed", BeNumerically(">=", 1)))
	g.Expect(seen).To(HaveKeyWithValue("prometheus/passed", BeNumerically(">=", 1)))
	g.Expect(seen).To(HaveKeyWithValue("httpCheck/passed", BeNumerically(">=", 2)))
	// The history keeps both rollouts, newest first.
	s = getSet(g, set)
	g.Expect(s.Status.RolloutHistory).To(HaveLen(3)) // v1 (the first revision), v2, v3
	g.Expect(s.Status.RolloutHistory[0].Revision).To(Equal(v3))
	g.Expect(s.Status.RolloutHistory[0].Phase).To(Equal(droverv1.RolloutRolledBack))
	g.Expect(s.Status.RolloutHistory[0].RollbackLatency).NotTo(BeNil())
	g.Expect(s.Status.RolloutHistory[1].Revision).To(Equal(v2))
	g.Expect(s.Status.RolloutHistory[1].Phase).To(Equal(droverv1.RolloutSucceeded))
	g.Expect(s.Status.RolloutHistory[2].Revision).To(Equal(v1))
}

// An A/B step holds the new version at a fixed weight until promoted; pause and resume
// hold and release a rollout; abort returns the traffic to the previous version.
func TestABHoldPausePromoteAndAbort(t *testing.T) {
	g := NewWithT(t)
	newPolicy(t, "ab", droverv1.RolloutPolicySpec{
		Steps: []droverv1.RolloutStep{
			{Name: "ab", Selector: regionIs("eu"), Weight: ptr.To[int32](50), Gates: []droverv1.Gate{{Pause: &droverv1.PauseGate{UntilApproved: ptr.To(true)}}}},
			{Name: "rest"},
		},
	})
	set := newSet(t, "ab", "ab", 2)
	v2 := ship(t, set, "v2")
	var euProd string
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.Rollout.Revision).To(Equal(v2))
		for _, p := range s.Status.Prods {
			if p.Revision == v2 {
				euProd = p.Name
				g.Expect(p.PublishedWeight).To(HaveValue(BeEquivalentTo(50)))
			}
		}
		g.Expect(euProd).NotTo(BeEmpty())
		g.Expect(s.Status.Rollout.Message).To(ContainSubstring("waiting for approval"))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
	// It holds: both versions serve, at 50 and 100, in Route53.
	split := map[string]int32{}
	for _, name := range byCluster(g, set) {
		split[set.Namespace+"/"+name] = 100
	}
	split[set.Namespace+"/"+euProd] = 50
	g.Eventually(func(g Gomega) {
		g.Expect(records(g, set)).To(Equal(split))
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.Rollout.StepName).To(Equal("ab"))
		g.Expect(s.Status.ServingReplicas).To(BeEquivalentTo(2))
		g.Expect(records(g, set)).To(Equal(split))
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())

	command(t, set, "pause")
	s := waitPhase(t, set, v2, droverv1.RolloutPaused, 10*time.Second)
	g.Expect(conditions.Get(s, droverv1.ProdSetRolledOutCondition).Reason).To(Equal(droverv1.ProdSetRolloutPausedReason))
	command(t, set, "promote") // recorded; passes the gate once resumed
	g.Consistently(func(g Gomega) {
		g.Expect(getSet(g, set).Status.Rollout.Phase).To(Equal(droverv1.RolloutPaused))
		g.Expect(records(g, set)).To(Equal(split), "paused, Route53 keeps the split")
	}, 2*time.Second, 250*time.Millisecond).Should(Succeed())
	command(t, set, "resume")
	waitPhase(t, set, v2, droverv1.RolloutSucceeded, 90*time.Second)
	g.Eventually(func(g Gomega) {
		for id, w := range records(g, set) {
			g.Expect(w).To(BeEquivalentTo(100), "%s once v2 is out everywhere", id)
		}
		g.Expect(records(g, set)).To(HaveLen(2))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	// v3, aborted while it holds at its A/B step. RolledBack is reported only once
	// Route53 said the change taking the v3 Prod out INSYNC.
	v3 := ship(t, set, "v3")
	var v3Prod string
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.Rollout.Revision).To(Equal(v3))
		g.Expect(s.Status.Rollout.Message).To(ContainSubstring("waiting for approval"))
		for _, p := range s.Status.Prods {
			if p.Revision == v3 {
				v3Prod = p.Name
			}
		}
		g.Expect(v3Prod).NotTo(BeEmpty())
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
	asked := time.Now()
	command(t, set, "abort")
	aborted := dnsbed.WaitReported(t, "the abort of v3", rolledBack(set, v3), changeTakingOut(set, asked, set.Namespace+"/"+v3Prod), 0, propagation)
	t.Logf("abort: change submitted %s after the request, INSYNC %s later, RolledBack seen %s after INSYNC",
		aborted.Submitted.Sub(asked).Round(time.Millisecond), aborted.ReportedInSync.Sub(aborted.Submitted).Round(time.Millisecond),
		aborted.Reported.Sub(aborted.ReportedInSync).Round(time.Millisecond))
	s = waitPhase(t, set, v3, droverv1.RolloutRolledBack, 90*time.Second)
	// The v3 Prod left traffic in the abort's Route53 change, the first one after the
	// rollback was handed over. (The step's weight 50 may still have been going out
	// when the rollout said it was waiting for approval: its gates start once the Prod
	// is available.)
	var v3Prods []string
	for _, p := range s.Status.Rollout.Prods {
		v3Prods = append(v3Prods, set.Namespace+"/"+p.Name)
	}
	g.Expect(v3Prods).To(HaveLen(1))
	expectOneChange(t, set, s.Status.Rollout.RollbackSubmittedTime.Time, v3Prods...)
	g.Expect(s.Status.Rollout.Message).To(ContainSubstring("abort requested"))
	g.Expect(s.Status.Rollout.RollbackLatency).NotTo(BeNil())
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.ServingReplicas).To(BeEquivalentTo(2))
		for _, p := range s.Status.Prods {
			g.Expect(p.Revision).To(Equal(v2), "%s", p.Name)
		}
		for id, w := range records(g, set) {
			g.Expect(w).To(BeEquivalentTo(100), "%s back on v2 in traffic", id)
		}
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
}

// A set whose policy does not exist changes no Prod and says why; creating the policy
// lets the rollout start.
func TestMissingPolicyHoldsTheRollout(t *testing.T) {
	g := NewWithT(t)
	newPolicy(t, "later", droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{{Name: "all", MaxParallel: ptr.To(intstr.FromString("100%"))}}})
	set := newSet(t, "held", "later", 2)
	g.Expect(cp.Delete(ctx(), &droverv1.RolloutPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: "later"}})).To(Succeed())
	v1 := getSet(g, set).Status.CurrentRevision
	ship(t, set, "v2")
	g.Eventually(func(g Gomega) {
		c := conditions.Get(getSet(g, set), droverv1.ProdSetRolledOutCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(droverv1.ProdSetPolicyNotFoundReason))
		g.Expect(c.Message).To(ContainSubstring("RolloutPolicy later not found"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		for _, p := range getSet(g, set).Status.Prods {
			g.Expect(p.Revision).To(Equal(v1), "nothing moves without the policy")
		}
	}, 2*time.Second, 250*time.Millisecond).Should(Succeed())
	newPolicy(t, "later", droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{{Name: "all", MaxParallel: ptr.To(intstr.FromString("100%"))}}})
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.Rollout.Phase).To(Equal(droverv1.RolloutSucceeded), fmt.Sprint(s.Status.Rollout))
		g.Expect(s.Status.Rollout.PreviousRevision).To(Equal(v1))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
}

// A policy the API server accepts but drover cannot run (a broken template) is reported
// on the policy and holds the sets that follow it; fixing it lets the rollout go.
func TestAnInvalidPolicyIsReportedAndHolds(t *testing.T) {
	g := NewWithT(t)
	policy := newPolicy(t, "broken", droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{{Name: "all", MaxParallel: ptr.To(intstr.FromString("100%"))}}})
	set := newSet(t, "strict", "broken", 2)
	updatePolicy(t, policy, func(p *droverv1.RolloutPolicy) {
		p.Spec.Steps[0].Gates = []droverv1.Gate{{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host /healthz"}}}
	})
	g.Eventually(func(g Gomega) {
		p := &droverv1.RolloutPolicy{}
		g.Expect(cp.Get(ctx(), client.ObjectKeyFromObject(policy), p)).To(Succeed())
		c := conditions.Get(p, droverv1.RolloutPolicyAcceptedCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Message).To(And(ContainSubstring("spec.steps[0] (all).gates[0].httpCheck.url"), ContainSubstring("strict")))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	v1 := getSet(g, set).Status.CurrentRevision
	ship(t, set, "v2")
	g.Eventually(func(g Gomega) {
		c := conditions.Get(getSet(g, set), droverv1.ProdSetRolledOutCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(droverv1.ProdSetPolicyInvalidReason))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		for _, p := range getSet(g, set).Status.Prods {
			g.Expect(p.Revision).To(Equal(v1))
		}
	}, 2*time.Second, 250*time.Millisecond).Should(Succeed())

	updatePolicy(t, policy, func(p *droverv1.RolloutPolicy) { p.Spec.Steps[0].Gates = nil })
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.Rollout).NotTo(BeNil())
		g.Expect(s.Status.Rollout.Phase).To(Equal(droverv1.RolloutSucceeded))
		g.Expect(s.Status.Rollout.PreviousRevision).To(Equal(v1))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
}

func updatePolicy(t *testing.T, policy *droverv1.RolloutPolicy, mutate func(*droverv1.RolloutPolicy)) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		p := &droverv1.RolloutPolicy{}
		if err := cp.Get(ctx(), client.ObjectKeyFromObject(policy), p); err != nil {
			return err
		}
		mutate(p)
		return cp.Update(ctx(), p)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}
