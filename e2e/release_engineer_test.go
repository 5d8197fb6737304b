package e2e

import (
	"net/http"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// gateKey names a gate verdict by its step and type, in the order status.rollout.gates
// lists them.
type gateKey struct {
	Step int32
	Type string
}

// gateKeys lists the verdicts' step and type, in order.
func gateKeys(gates []droverv1.GateOutcome) []gateKey {
	out := make([]gateKey, len(gates))
	for i, g := range gates {
		out[i] = gateKey{Step: g.Step, Type: g.Type}
	}
	return out
}

// rolloutProdsByStep groups the Prods a rollout moved by the step that picked them.
func rolloutProdsByStep(ro *droverv1.RolloutStatus) map[int32][]string {
	out := map[int32][]string{}
	for _, p := range ro.Prods {
		out[p.Step] = append(out[p.Step], p.Name)
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

// releaseEngineerSpecs are the release engineer's part of the shop's story: v2 goes
// through the policy; v3 fails at step 2 and its traffic goes back to v2 in one change.
func releaseEngineerSpecs(story *shopStory) {
	It("the release engineer ships v2 through the 3-step policy, gate after gate, and it completes", func(ctx SpecContext) {
		before := getSet(ctx, Default, story.key)
		v1 := before.Status.CurrentRevision
		prods := listSetProds(ctx, Default, story.key)
		testProds := prodsByCluster(prods)[testCluster]
		Expect(testProds).NotTo(BeEmpty(), "no Prod on %s for the test step", testCluster)
		checked := checks.Hits("v2", http.StatusOK)

		story.v2 = shipVersion(ctx, story.key, "v2")
		By("following the rollout, reading Route53 while the test step runs")
		canary := map[string]bool{} // Prods seen at the test step's weight 10
		var set *droverv1.ProdSet
		Eventually(func(g Gomega) {
			stopIfManagerExited(manager.Manager)
			set = getSet(ctx, g, story.key)
			ro := set.Status.Rollout
			g.Expect(ro).NotTo(BeNil())
			g.Expect(ro.Revision).To(Equal(story.v2))
			if ro.Step == 0 {
				if recs, err := readSetRecords(ctx, story.key); err == nil {
					for k, w := range recordWeights(recs) {
						if w == 10 {
							canary[k] = true
						}
					}
				}
			}
			if ro.Phase == droverv1.RolloutRolledBack || ro.Phase == droverv1.RolloutPaused {
				StopTrying("the rollout of v2 ended " + string(ro.Phase) + ": " + ro.Message).Now()
			}
			g.Expect(ro.Phase).To(Equal(droverv1.RolloutSucceeded), "the rollout is at step %d (%s): %s", ro.Step, ro.StepName, ro.Message)
		}, rolloutWait...).Should(Succeed())
		ro := set.Status.Rollout
		Expect(ro.PreviousRevision).To(Equal(v1), "the rollout replaced v1's revision")
		Expect(ro.Step).To(BeEquivalentTo(3), "all 3 steps passed")
		Expect(ro.FinishedTime).NotTo(BeNil())
		Eventually(func(g Gomega) {
			s := getSet(ctx, g, story.key)
			g.Expect(meta.FindStatusCondition(s.Status.Conditions, droverv1.ProdSetRolledOutCondition)).To(HaveField("Status", metav1.ConditionTrue))
		}, time.Minute, 250*time.Millisecond).Should(Succeed(), "RolledOut is True once the rollout succeeded")

		By("each step moved its Prods: one on " + testCluster + ", then the two first by name (all carry the same traffic), then the rest")
		byStep := rolloutProdsByStep(ro)
		Expect(byStep[0]).To(HaveLen(1), "the test step's Prods")
		Expect(testProds).To(ContainElement(byStep[0][0]), "the test step's Prod runs on %s", testCluster)
		var rest []string
		for _, n := range prodNames(prods) {
			if n != byStep[0][0] {
				rest = append(rest, n)
			}
		}
		Expect(byStep[1]).To(Equal(rest[:2]), "least-impact takes the 2 Prods with the least traffic, names breaking the tie of equal weights")
		Expect(byStep[2]).To(ConsistOf(rest[2:]), "the rest")
		for _, p := range ro.Prods {
			Expect(p.Phase).To(BeEquivalentTo("Done"), "Prod %s's rollout phase", p.Name)
		}
		Expect(canary).To(Equal(map[string]bool{story.key.Namespace + "/" + byStep[0][0]: true}),
			"during the test step, its Prod (and only it) served at the step's weight 10 in Route53")

		By("every gate passed, in the policy's order, each step's after the step before")
		Expect(gateKeys(ro.Gates)).To(Equal([]gateKey{
			{0, "httpCheck"}, {0, "prometheus"}, {1, "httpCheck"}, {1, "prometheus"}, {2, "httpCheck"},
		}), "status.rollout.gates: %+v", ro.Gates)
		for i, g := range ro.Gates {
			Expect(g.Passed).To(BeTrue(), "gate %d (step %s, %s): %s", i, g.StepName, g.Type, g.Message)
			if i > 0 && g.Step > ro.Gates[i-1].Step {
				Expect(g.Time.Time).NotTo(BeTemporally("<", ro.Gates[i-1].Time.Time), "step %s's verdicts come after step %s's", g.StepName, ro.Gates[i-1].StepName)
			}
		}
		Expect(ro.Gates[1].Message).To(ContainSubstring("held for 4s"))
		Expect(ro.Gates[3].Message).To(ContainSubstring("held for 12s"))
		Expect(checks.Hits("v2", http.StatusOK)-checked).To(BeNumerically(">=", httpCheckTries*len(prods)),
			"the HTTP gates checked each of the %d Prods %d times", len(prods), httpCheckTries)

		By("every Prod runs v2, its Deployment rolled out with :v2, and back at its weight in Route53")
		_, prods = waitForSetServing(ctx, waitForSetServingInput{Key: story.key, Version: "v2"})
		waitForAppDeployments(ctx, story.key.Name, prods, "v2")
		set = getSet(ctx, Default, story.key)
		Expect(set.Status.RolloutHistory).NotTo(BeEmpty())
		Expect(set.Status.RolloutHistory[0]).To(And(HaveField("Revision", story.v2), HaveField("Phase", droverv1.RolloutSucceeded)))
	}, SpecTimeout(7*time.Minute))

	It("v3 fails its Prometheus gate at step 2: the traffic goes back to the v2 Prods in one Route53 change", func(ctx SpecContext) {
		setErrorRatio("v3", goodErrorRatio)
		waitForErrorRatio(ctx, "v3", goodErrorRatio)
		// The specs after this one (the fault specs too) find v3 healthy again.
		DeferCleanup(setErrorRatio, "v3", goodErrorRatio)
		story.v3 = shipVersion(ctx, story.key, "v3")

		By("waiting for step 2's gates to run, with no DNS change of the set in flight")
		Eventually(func(g Gomega) {
			stopIfManagerExited(manager.Manager)
			set := getSet(ctx, g, story.key)
			ro := set.Status.Rollout
			g.Expect(ro).NotTo(BeNil())
			g.Expect(ro.Revision).To(Equal(story.v3))
			if ro.Phase != droverv1.RolloutProgressing || ro.Step > 1 {
				StopTrying("the rollout of v3 went past step 2's gates before the error ratio rose: " + string(ro.Phase) + ", " + ro.StepName + ": " + ro.Message).Now()
			}
			g.Expect(ro.StepName).To(Equal("least-impact"))
			g.Expect(ro.GatesStartedTime).NotTo(BeNil(), "step 2's gates have not started")
			g.Expect(set.Status.Traffic).NotTo(BeNil())
			g.Expect(set.Status.Traffic.ChangeID).To(BeEmpty(), "a DNS change is in flight")
			for _, p := range set.Status.Prods {
				g.Expect(p.PendingWeight).To(BeNil(), "Prod %s has a weight pending", p.Name)
				g.Expect(p.PublishedWeight).To(Equal(p.Weight), "Prod %s's published weight", p.Name)
			}
			g.Expect(rolloutProdsByStep(ro)[1]).To(HaveLen(2))
		}, rolloutWait...).Should(Succeed())

		// Counted on the wire, by the proxy in front of moto's Route53.
		changesBefore := route53ChangeRequests()
		rose := time.Now()
		if ro := getSet(ctx, Default, story.key).Status.Rollout; ro.GatesStartedTime != nil {
			GinkgoWriter.Printf("step 2's gates started at %s; quiet, the error ratio rises at %s\n",
				ro.GatesStartedTime.Format("15:04:05"), rose.Format("15:04:05.000"))
		}
		Byf("raising v3's error ratio to %g (%d Route53 changes so far)", badErrorRatio, changesBefore)
		setErrorRatio("v3", badErrorRatio)

		// The rollback is submitted to the zone's DNS worker, which sends it after a short
		// linger and follows it to INSYNC. Once status has the v3 Prods' weight 0 in sync,
		// the change was made and counted; the next change (a reverted Prod back in
		// traffic) waits for a drain of one TTL after that. Route53 read after the counter
		// still showing every v3 Prod at 0 proves that no such change was counted with it.
		var (
			ro            *droverv1.RolloutStatus
			changesAfter  int
			weightsAfter  map[string]int64
			recordsReadAt time.Time
		)
		Eventually(func(g Gomega) {
			stopIfManagerExited(manager.Manager)
			set := getSet(ctx, g, story.key)
			ro = set.Status.Rollout
			if ro.Phase == droverv1.RolloutSucceeded {
				StopTrying("the rollout of v3 succeeded").Now()
			}
			g.Expect(ro.RollbackSubmittedTime).NotTo(BeNil(), "the rollout is %s at %s: %s", ro.Phase, ro.StepName, ro.Message)
			published := map[string]droverv1.ProdSummary{}
			for _, p := range set.Status.Prods {
				published[p.Name] = p
			}
			for _, p := range ro.Prods {
				g.Expect(published[p.Name].PublishedWeight).To(HaveValue(BeZero()), "v3 Prod %s's weight 0 in sync", p.Name)
			}
			changesAfter = route53ChangeRequests()
			recs, err := readSetRecords(ctx, story.key)
			g.Expect(err).NotTo(HaveOccurred())
			recordsReadAt = time.Now()
			weightsAfter = recordWeights(recs)
		}, 2*time.Minute, 50*time.Millisecond).Should(Succeed())
		GinkgoWriter.Printf("gate failed at %s, rollback submitted at %s (rollbackLatency %v); records read at %s\n",
			ro.FailedTime.Format("15:04:05.000"), ro.RollbackSubmittedTime.Format("15:04:05.000"), ro.RollbackLatency, recordsReadAt.Format("15:04:05.000"))

		Expect(ro.StepName).To(Equal("least-impact"), "the rollout failed at step 2")
		Expect(ro.Message).To(And(ContainSubstring("gate failed"), ContainSubstring("prometheus"), ContainSubstring("does not hold")))
		Expect(ro.FailedTime).NotTo(BeNil())
		Expect(ro.FailedTime.Time).To(BeTemporally(">=", rose), "the gate failed after the error ratio rose")
		Expect(ro.RollbackSubmittedTime.Time).NotTo(BeTemporally("<", ro.FailedTime.Time))
		Expect(ro.RollbackLatency).NotTo(BeNil())
		Expect(ro.Gates).To(ContainElement(And(HaveField("Step", BeEquivalentTo(1)), HaveField("Type", "prometheus"), HaveField("Passed", BeFalse()))))

		By("the failure and the rollback made exactly one Route53 change, which took the 3 v3 Prods out and left the 3 v2 Prods in")
		v3Prods := map[string]bool{}
		for _, p := range ro.Prods {
			v3Prods[story.key.Namespace+"/"+p.Name] = true
		}
		Expect(v3Prods).To(HaveLen(3), "the test Prod and step 2's two ran v3")
		Expect(weightsAfter).To(HaveLen(defaultSetReplicas))
		for k, w := range weightsAfter {
			if v3Prods[k] {
				Expect(w).To(BeZero(), "v3 Prod %s's weight in Route53 once the rollback was in sync", k)
			} else {
				Expect(w).To(BeEquivalentTo(droverv1.DefaultWeight), "v2 Prod %s's weight in Route53 once the rollback was in sync", k)
			}
		}
		Expect(changesAfter-changesBefore).To(BeEquivalentTo(1), "ChangeResourceRecordSets requests, seen by the proxy, from the error ratio rising to the rollback in sync")

		By("the v3 Prods go back to v2 and into traffic")
		waitForRollout(ctx, waitForRolloutInput{Key: story.key, Revision: story.v3, Phase: droverv1.RolloutRolledBack})
		Eventually(func(g Gomega) {
			s := getSet(ctx, g, story.key)
			g.Expect(meta.FindStatusCondition(s.Status.Conditions, droverv1.ProdSetRolledOutCondition)).To(HaveField("Reason", droverv1.ProdSetRolledBackReason))
		}, time.Minute, 250*time.Millisecond).Should(Succeed(), "RolledOut says RolledBack once the rollout rolled back")
		_, prods := waitForSetServing(ctx, waitForSetServingInput{Key: story.key, Version: "v2"})
		for _, p := range getSet(ctx, Default, story.key).Status.Prods {
			Expect(p.Revision).To(Equal(story.v2), "Prod %s's revision", p.Name)
		}
		waitForAppDeployments(ctx, story.key.Name, prods, "v2")
		set := getSet(ctx, Default, story.key)
		Expect(len(set.Status.RolloutHistory)).To(BeNumerically(">=", 2))
		Expect(set.Status.RolloutHistory[0]).To(And(HaveField("Revision", story.v3), HaveField("Phase", droverv1.RolloutRolledBack),
			HaveField("RollbackLatency", Not(BeNil()))))
		Expect(set.Status.RolloutHistory[1]).To(And(HaveField("Revision", story.v2), HaveField("Phase", droverv1.RolloutSucceeded)))
		Expect(ptr.Deref(set.Spec.Replicas, 0)).To(BeEquivalentTo(defaultSetReplicas))
	}, SpecTimeout(7*time.Minute))

	It("v4 fails its HTTP check at the test step: only the test Prod ever ran it, and it is back on v2", func(ctx SpecContext) {
		// A version of its own: the check endpoint fails it for the rest of the suite.
		const v4 = "v4-broken"
		checks.Fail(v4)
		revision := shipVersion(ctx, story.key, v4)
		set := waitForRollout(ctx, waitForRolloutInput{Key: story.key, Revision: revision, Phase: droverv1.RolloutRolledBack})
		ro := set.Status.Rollout
		Expect(ro.StepName).To(Equal("test"), "the rollout failed at its first step")
		Expect(ro.Message).To(And(ContainSubstring("gate failed"), ContainSubstring("httpCheck")))
		Expect(ro.Prods).To(HaveLen(1), "only the test Prod moved to v4")
		Expect(ro.Gates).To(ContainElement(And(HaveField("Step", BeEquivalentTo(0)), HaveField("Type", "httpCheck"), HaveField("Passed", BeFalse()))))
		first, ok := checks.FirstFailed(v4)
		Expect(ok).To(BeTrue(), "the check endpoint never failed a check of %s", v4)
		Expect(ro.FailedTime.Time).To(BeTemporally(">=", first), "the gate failed after the endpoint answered 500")
		Expect(checks.Hits(v4, http.StatusInternalServerError)).To(Equal(httpCheckTries), "the HTTP gate sent all its tries to the one test Prod")
		Expect(checks.Hits(v4, http.StatusOK)).To(BeZero())
		waitForSetServing(ctx, waitForSetServingInput{Key: story.key, Version: "v2"})
	}, SpecTimeout(5*time.Minute))
}
