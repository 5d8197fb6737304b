package rollouts_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/clouds/prometheustest"
)

// A release engineer judges each release's canary against the Prods still on the
// previous version, through a real Prometheus. v2 behaves as v1 did and goes out; v3's
// errors are three times the baseline's and it is rolled back by traffic, with the
// judgement (the Prods compared, means, samples, p-value) in the set's status; v4 reports
// no metric at all, which is inconclusive, and under onInconclusive Pause the rollout
// pauses although the failurePolicy is Rollback.
func TestBaselineGateJudgesTheCanaryAgainstThePreviousVersion(t *testing.T) {
	g := NewWithT(t)
	metrics := prometheustest.NewExporter(t)
	// The error ratio per version moves around 0.01 every 100ms; v2 follows v1 exactly,
	// v3 is three times worse, v4 is silent.
	set := func(rng *rand.Rand) {
		v := 0.01 * (0.9 + 0.2*rng.Float64())
		for version, k := range map[string]float64{"v1": 1, "v2": 1, "v3": 3} {
			metrics.Set("shop_error_ratio", map[string]string{"version": version}, v*k)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	set(rng)
	stop, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for stop.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			set(rng)
		}
	}()
	prom := prometheustest.Start(t, prometheustest.Options{ScrapeTargets: []string{metrics.Addr()}, ScrapeInterval: 250 * time.Millisecond})
	prom.WaitForQuery(t, `shop_error_ratio{version="v3"}`, 30*time.Second)

	newPolicy(t, "judged", droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.RollbackFailurePolicy,
		Steps: []droverv1.RolloutStep{
			{Name: "canary", Count: ptr.To(intstr.FromInt32(1)), Gates: []droverv1.Gate{{Baseline: &droverv1.BaselineGate{
				Address: prom.URL(),
				Metrics: []droverv1.BaselineMetric{{Name: "errors", Query: `max(shop_error_ratio{version="{{ .Version }}"})`, MaxRatio: "1.5"}},
				Window:  &metav1.Duration{Duration: 10 * time.Second}, Interval: &metav1.Duration{Duration: 500 * time.Millisecond},
				OnInconclusive: droverv1.InconclusivePause,
			}}}},
			{Name: "rest", MaxParallel: ptr.To(intstr.FromInt32(2))},
		},
	})
	ps := newSet(t, "judged", "judged", 3)

	// v2: as good as v1.
	v2 := ship(t, ps, "v2")
	s := waitPhase(t, ps, v2, droverv1.RolloutSucceeded, 120*time.Second)
	passed := s.Status.Rollout.Gates[0]
	g.Expect(passed.Type).To(Equal("baseline"))
	g.Expect(passed.Passed).To(BeTrue(), passed.Message)
	g.Expect(passed.Baseline).NotTo(BeNil())
	g.Expect(passed.Baseline.Canary).To(HaveLen(1))
	g.Expect(passed.Baseline.Baseline).To(HaveLen(1), "as many baseline Prods as canary ones")
	g.Expect(passed.Baseline.Baseline).NotTo(ContainElement(passed.Baseline.Canary[0]))
	g.Expect(passed.Baseline.Metrics).To(ConsistOf(And(HaveField("Name", "errors"), HaveField("Verdict", "Pass"),
		HaveField("CanarySamples", BeNumerically(">=", 10)), HaveField("BaselineSamples", BeNumerically(">=", 10)))))

	// v3: worse than v2 beyond the tolerated ratio: rolled back.
	v3 := ship(t, ps, "v3")
	s = waitPhase(t, ps, v3, droverv1.RolloutRolledBack, 120*time.Second)
	failed := s.Status.Rollout.Gates[len(s.Status.Rollout.Gates)-1]
	g.Expect(failed.Passed).To(BeFalse())
	g.Expect(failed.Inconclusive).To(BeFalse())
	g.Expect(s.Status.Rollout.Message).To(And(ContainSubstring("gate failed"), ContainSubstring("baseline"), ContainSubstring("beyond the tolerated ratio 1.5")))
	g.Expect(failed.Baseline).NotTo(BeNil())
	m := failed.Baseline.Metrics[0]
	g.Expect(m.Verdict).To(Equal("Fail"))
	g.Expect(m.PValue).NotTo(BeEmpty())
	g.Expect(m.CanaryMean).NotTo(BeEmpty())
	g.Expect(m.BaselineMean).NotTo(BeEmpty())
	t.Logf("v3 judged: %+v", m)
	g.Eventually(func(g Gomega) {
		for _, p := range getSet(g, ps).Status.Prods {
			g.Expect(p.Version).To(Equal("v2"), p.Name)
		}
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())

	// v4: no data. Inconclusive pauses, whatever the failurePolicy.
	v4 := ship(t, ps, "v4")
	s = waitPhase(t, ps, v4, droverv1.RolloutPaused, 120*time.Second)
	held := s.Status.Rollout.Gates[len(s.Status.Rollout.Gates)-1]
	g.Expect(held.Passed).To(BeFalse())
	g.Expect(held.Inconclusive).To(BeTrue(), held.Message)
	g.Expect(held.Baseline.Metrics[0]).To(And(HaveField("Verdict", "Inconclusive"), HaveField("CanarySamples", BeEquivalentTo(0))))
	g.Expect(s.Status.Rollout.Message).To(ContainSubstring("too few samples"))
	// Resumed, it judges again: still silent, so it pauses again.
	before := len(s.Status.Rollout.Gates)
	command(t, ps, "resume")
	g.Eventually(func(g Gomega) {
		s := getSet(g, ps)
		g.Expect(s.Status.Rollout.Phase).To(Equal(droverv1.RolloutPaused))
		g.Expect(len(s.Status.Rollout.Gates)).To(BeNumerically(">", before))
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	command(t, ps, "abort")
	waitPhase(t, ps, v4, droverv1.RolloutRolledBack, 120*time.Second)
}
