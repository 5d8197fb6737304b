package e2e

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Faults: what the design promises when things break mid-rollout. "Stop, don't guess":
// a workload cluster that becomes unreachable has its Prods taken out of traffic,
// nothing deleted or replaced before the toleration, and the rollout waits for it. "A
// controller restart at any moment resumes from status; no step runs twice." One replica
// acts at a time and another takes over when it dies.
//
// One ProdSet of 4 Prods (one per workload cluster, 2 per region, at least 2 serving)
// follows an InPlace policy of three steps, each behind a quick HTTP check: a canary (the
// first Prod by name, workload-1's, at weight 50), the other EU Prod, then both US Prods
// at once. Each spec ships the next version through it with a fault injected, and a
// ledger (faults_helpers_test.go) records every spec generation of every Prod, every
// status of the set and the set's weights in Route53, to prove by counting that each
// Prod moved once and was drained once and that the rollout itself never went back.
//
// The kill spec makes the set follow, for its rollout, a slower twin of that policy: the
// US Prods go one at a time, so there are more drains and updates to kill the manager
// in; the EU step also pauses, counted from status.rollout.gatesStartedTime, so the
// pause runs on while no manager leads; and the last step waits for an approval, which
// the spec gives after its last kill, so that the rollout cannot end before the kills
// do on a machine of any speed.

const (
	// faultsSet names the ProdSet, its policy, its app and its record (faults.example.com).
	faultsSet = "faults"
	// faultsReplicas is its number of Prods: one per workload cluster.
	faultsReplicas = 4
	// managerKills is how many times the kill spec SIGKILLs the manager in one rollout.
	managerKills = 10
	// shortestKillDelay and longestKillDelay bound the time from a manager becoming
	// leader to its kill: long enough for it to start acting, short enough that the kills
	// fall all through the rollout (drains, updates, gates, DNS changes in flight).
	shortestKillDelay = time.Second
	longestKillDelay  = 8 * time.Second
	// outageHold is how long the workload spec watches the rollout wait on the
	// unreachable cluster (several of drover's 10 s probe intervals).
	outageHold = 20 * time.Second
	// killsPolicy is the slower twin of the faults policy that the kill spec uses, and
	// killsPause the pause of its EU step.
	killsPolicy = faultsSet + "-kills"
	killsPause  = 8 * time.Second
)

// faultsGatesPerStep and killsGatesPerStep are how many gates each step of the
// faults policy and of its slower twin have.
var (
	faultsGatesPerStep = []int{1, 1, 1}
	killsGatesPerStep  = []int{1, 2, 2}
)

// faultsSteps are the steps of the faults policy: a canary at weight 50, the other EU
// Prod, then both US Prods at once, each behind an HTTP check; with slow, the EU step
// also pauses for killsPause, the US Prods go one at a time and their step waits for an
// approval.
func faultsSteps(slow bool) []droverv1.RolloutStep {
	steps := []droverv1.RolloutStep{
		{Name: "canary", Count: ptr.To(intstr.FromInt32(1)), Weight: ptr.To[int32](50), Gates: []droverv1.Gate{httpCheckGate()}},
		{Name: "eu", Selector: faultRegion("eu"), Gates: []droverv1.Gate{httpCheckGate()}},
		{Name: "us", Selector: faultRegion("us"), MaxParallel: ptr.To(intstr.FromInt32(2)), Gates: []droverv1.Gate{httpCheckGate()}},
	}
	if slow {
		steps[1].Gates = append(steps[1].Gates, droverv1.Gate{Pause: &droverv1.PauseGate{Duration: &metav1.Duration{Duration: killsPause}}})
		steps[2].MaxParallel = ptr.To(intstr.FromInt32(1))
		steps[2].Gates = append(steps[2].Gates, droverv1.Gate{Approval: &droverv1.ApprovalGate{Message: "promoted after the last kill"}})
	}
	return steps
}

// faultRegion selects the Prods on the clusters of a region.
func faultRegion(region string) *droverv1.LabelSelector {
	return &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{regionLabel: droverv1.LabelValue(region)}}
}

var _ = Describe("faults", Ordered, func() {
	var key client.ObjectKey

	BeforeAll(func(ctx SpecContext) {
		createRolloutPolicy(ctx, newRolloutPolicy("", faultsSet, faultsSteps(false)...))
		createRolloutPolicy(ctx, newRolloutPolicy("", killsPolicy, faultsSteps(true)...))
		set := newProdSet(prodSetOptions{
			Name: faultsSet, Replicas: faultsReplicas, MaxPerCluster: 1, MinAvailable: ptr.To(intstr.FromInt32(2)), Policy: faultsSet,
			// Far beyond any outage here: nothing may be replaced while a cluster is
			// unreachable.
			UnreachableToleration: &metav1.Duration{Duration: 10 * time.Minute},
		})
		createProdSet(ctx, set)
		key = client.ObjectKeyFromObject(set)
		_, prods := waitForSetServing(ctx, waitForSetServingInput{Key: key, Version: "v1"})
		Expect(prodsByCluster(prods)).To(HaveLen(faultsReplicas), "one Prod per workload cluster")
	}, NodeTimeout(10*time.Minute))

	It("keeps every Prod through a workload API server killed mid-rollout and finishes the rollout once it is back", func(ctx SpecContext) {
		_, prods := waitForSetServing(ctx, waitForSetServingInput{Key: key, Version: "v1"})
		before := readWorkloadObjects(ctx, Default, faultsSet, prods)
		from := getSet(ctx, Default, key).Status.CurrentRevision
		ledger := startFaultLedger(key)

		to := shipVersion(ctx, key, "v2")
		// The reconcile that saw v2 picked the canary and took it out of traffic; it is
		// Draining for at least the records' TTL, then Updating until its Deployment
		// rolled out on its cluster. Its cluster becomes unreachable now.
		ro := getSet(ctx, Default, key).Status.Rollout
		Expect(ro).NotTo(BeNil())
		Expect(ro.Revision).To(Equal(to))
		Expect(ro.Prods).To(HaveLen(1), "the canary step picks one Prod")
		canary := ro.Prods[0].Name
		var canaryCluster string
		for i := range prods {
			if prods[i].Name == canary {
				canaryCluster = prods[i].Spec.ClusterRef.Name
			}
		}
		w := bed.Workload(canaryCluster)
		Expect(w).NotTo(BeNil(), "the canary %s's cluster", canary)
		Byf("Stopping the API server of %s while the canary %s is %s", canaryCluster, canary, ro.Prods[0].Phase)
		Expect(w.StopAPIServer()).To(Succeed())
		apiDown := true
		DeferCleanup(func() {
			if apiDown {
				Expect(w.StartAPIServer()).To(Succeed())
			}
		})
		inFlight := []droverv1.RolloutProdPhase{"Draining", "Updating"}
		ro = getSet(ctx, Default, key).Status.Rollout
		Expect(ro.Prods).To(ContainElement(And(HaveField("Name", canary), HaveField("Phase", BeElementOf(inFlight)))),
			"the canary was still on its way when its cluster became unreachable: %+v", ro.Prods)

		Byf("Waiting for drover to see %s unreachable: the canary ClusterReachable=False, out of traffic as ClusterUnreachable", canaryCluster)
		Eventually(func(g Gomega) {
			p := &droverv1.Prod{}
			g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: canary}, p)).To(Succeed())
			c := meta.FindStatusCondition(p.Status.Conditions, droverv1.ProdClusterReachableCondition)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "ClusterReachable: %s: %s", c.Reason, c.Message)
			sum := summaryOf(getSet(ctx, g, key), canary)
			g.Expect(sum).NotTo(BeNil())
			g.Expect(sum.Reachable).To(Equal(metav1.ConditionFalse))
			g.Expect(sum.Evicted).To(Equal(droverv1.EvictedClusterUnreachable))
		}, 90*time.Second, 250*time.Millisecond).Should(Succeed())

		Byf("Watching the rollout wait for %s for %s: nothing deleted, replaced, skipped or failed; the other Prods serve", canaryCluster, outageHold)
		uids := prodUIDs(prods)
		Consistently(func(g Gomega) {
			set := getSet(ctx, g, key)
			g.Expect(set.Status.Replicas).To(BeEquivalentTo(faultsReplicas), "status.replicas")
			g.Expect(meta.IsStatusConditionTrue(set.Status.Conditions, droverv1.ProdSetFrozenCondition)).To(BeFalse(), "one unreachable cluster of four does not freeze the set")
			ro := set.Status.Rollout
			g.Expect(ro.Revision).To(Equal(to))
			g.Expect(ro.Phase).To(Equal(droverv1.RolloutProgressing), "the rollout neither fails nor pauses: %s", ro.Message)
			g.Expect(ro.Step).To(BeEquivalentTo(0), "the canary step waits: %s", ro.Message)
			g.Expect(ro.Gates).To(BeEmpty(), "no gate runs before the canary is back")
			g.Expect(ro.Prods).To(ConsistOf(And(HaveField("Name", canary), HaveField("Phase", BeElementOf(inFlight)))), "only the canary is picked, and it is not Done")
			now := listSetProds(ctx, g, key)
			g.Expect(prodUIDs(now)).To(Equal(uids), "the same Prods, none made again")
			for i := range now {
				g.Expect(now[i].DeletionTimestamp).To(BeNil(), "Prod %s is not deleted", now[i].Name)
				g.Expect(now[i].Annotations).NotTo(HaveKey(droverv1.SupersededAnnotation), "Prod %s is not superseded", now[i].Name)
			}
			recs, err := readSetRecords(ctx, key)
			g.Expect(err).NotTo(HaveOccurred())
			weights := recordWeights(recs)
			g.Expect(weights).To(HaveLen(faultsReplicas), "every Prod keeps its records")
			for name, wgt := range weights {
				if name == key.Namespace+"/"+canary {
					g.Expect(wgt).To(BeZero(), "the canary on the unreachable cluster is out of traffic")
				} else {
					g.Expect(wgt).To(BeEquivalentTo(droverv1.DefaultWeight), "%s keeps serving", name)
				}
			}
		}, outageHold, 500*time.Millisecond).Should(Succeed())
		GinkgoWriter.Printf("while %s was unreachable the rollout said: %s\n", canaryCluster, getSet(ctx, Default, key).Status.Rollout.Message)

		Byf("Starting the API server of %s again", canaryCluster)
		Expect(w.StartAPIServer()).To(Succeed())
		apiDown = false
		waitForRollout(ctx, waitForRolloutInput{Key: key, Revision: to, Phase: droverv1.RolloutSucceeded})
		_, after := waitForSetServing(ctx, waitForSetServingInput{Key: key, Version: "v2"})
		ledger.stop()

		By("Checking the workload clusters: the same objects, each Deployment updated once to v2")
		expectUpdatedOnce(ctx, before, after, "v2")
		By("Checking the ledger: each Prod moved and was drained once, the rollout went forward only")
		expectLedger(ledger, ledgerExpectation{Revision: to, Previous: from, Version: "v2", Prods: uids, GatesPerStep: faultsGatesPerStep})
		expectCloudsClean(ctx, key, after)
	}, NodeTimeout(15*time.Minute))

	It("neither repeats a step nor loses a Prod when the manager is SIGKILLed 10 times during a rollout", func(ctx SpecContext) {
		_, prods := waitForSetServing(ctx, waitForSetServingInput{Key: key, Version: "v2"})
		before := readWorkloadObjects(ctx, Default, faultsSet, prods)
		nlbs := expectOneNLBPerProd(ctx, Default, key, prods)
		from := getSet(ctx, Default, key).Status.CurrentRevision
		By("Following the slower policy " + killsPolicy + " for this rollout")
		followPolicy(ctx, key, killsPolicy)
		DeferCleanup(func(ctx SpecContext) {
			if manager.Exited() {
				manager.restart()
			}
			followPolicy(ctx, key, faultsSet)
		})
		ledger := startFaultLedger(key)

		seed := GinkgoRandomSeed()
		rng := rand.New(rand.NewPCG(uint64(seed), 0xfa17))
		GinkgoWriter.Printf("manager kills: seed %d (run again with --ginkgo.seed=%d)\n", seed, seed)
		to := shipVersion(ctx, key, "v3")
		leading := time.Now()
		midRollout := 0
		kinds := map[string]int{}
		for i := 1; i <= managerKills; i++ {
			delay := shortestKillDelay + time.Duration(rng.Int64N(int64(longestKillDelay-shortestKillDelay)))
			sleepCtx(ctx, time.Until(leading.Add(delay)))
			moment, ks := rolloutMoment(ctx, key)
			if strings.HasPrefix(moment, string(droverv1.RolloutProgressing)) {
				midRollout++
			}
			for _, k := range ks {
				kinds[k]++
			}
			GinkgoWriter.Printf("kill %d/%d, %s after the manager led: %s\n", i, managerKills, delay.Round(time.Millisecond), moment)
			manager.kill()
			manager.restart()
			leading = waitForLeader(manager)
		}
		GinkgoWriter.Printf("%d of %d kills fell mid-rollout; what was under way at the kills: %v\n", midRollout, managerKills, kinds)
		Expect(midRollout).To(Equal(managerKills), "every kill fell while the rollout ran (the approval holds its end)")
		By("Promoting the last step, as its approval asks")
		promote(ctx, key)

		waitForRollout(ctx, waitForRolloutInput{Key: key, Revision: to, Phase: droverv1.RolloutSucceeded})
		set, after := waitForSetServing(ctx, waitForSetServingInput{Key: key, Version: "v3"})
		ledger.stop()

		By("Checking the workload clusters: the same objects, each Deployment updated once to v3")
		expectUpdatedOnce(ctx, before, after, "v3")
		By("Checking the ledger: each Prod moved and was drained once, the rollout went forward only")
		expectLedger(ledger, ledgerExpectation{Revision: to, Previous: from, Version: "v3", Prods: prodUIDs(prods), GatesPerStep: killsGatesPerStep})
		var finished []droverv1.RolloutRecord
		for _, r := range set.Status.RolloutHistory {
			if r.Revision == to {
				finished = append(finished, r)
			}
		}
		Expect(finished).To(ConsistOf(HaveField("Phase", droverv1.RolloutSucceeded)), "the rollout of %s is in the history once", to)
		now := expectCloudsClean(ctx, key, after)
		for i := range after {
			p := &after[i]
			if p.Status.Endpoint.LoadBalancerID == endpointLB(prods, p.Name) {
				Expect(now[p.Name]).To(Equal(nlbs[p.Name]), "Prod %s kept its NLB (its Octavia load balancer is the same)", p.Name)
			}
		}
	}, NodeTimeout(15*time.Minute))

	It("lets only the leader act, and hands over to the other replica when the leader is killed", func(ctx SpecContext) {
		first := manager
		Expect(first.isLeader()).To(BeTrue(), "manager %s leads at the start", first.name)
		By("Starting a second replica")
		second := startReplica("manager-2")
		DeferCleanup(func() {
			// Leave the suite as the spec found it: its manager leading, alone.
			if !second.Exited() {
				second.kill()
			}
			if first.Exited() {
				first.restart()
			}
			manager = first
			waitForLeader(first)
		})
		Eventually(func() bool { return metricsUp(second) }, time.Minute, 250*time.Millisecond).Should(BeTrue(), "manager-2's metrics endpoint")
		By("Checking that one replica leads and the other does nothing")
		Consistently(func(g Gomega) {
			g.Expect(first.isLeader()).To(BeTrue(), "%s leads", first.name)
			g.Expect(second.isLeader()).To(BeFalse(), "%s follows", second.name)
			a, err := activityOf(ctx, second)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(a.none()).To(BeTrue(), "the follower did something: %s", a)
		}, 5*time.Second, 500*time.Millisecond).Should(Succeed())
		leaderBefore, err := activityOf(ctx, first)
		Expect(err).NotTo(HaveOccurred())

		v4 := shipVersion(ctx, key, "v4")
		Byf("Waiting for the leader to act on v4: a Prod picked and out of traffic in Route53")
		Eventually(func(g Gomega) {
			ro := getSet(ctx, g, key).Status.Rollout
			g.Expect(ro.Revision).To(Equal(v4))
			g.Expect(ro.Prods).NotTo(BeEmpty())
			recs, err := readSetRecords(ctx, key)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(recordWeights(recs)).To(HaveKeyWithValue(key.Namespace+"/"+ro.Prods[0].Name, BeZero()))
		}, time.Minute, 250*time.Millisecond).Should(Succeed())
		leaderAfter, err := activityOf(ctx, first)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("the leader %s: %s before v4, %s after\n", first.name, leaderBefore, leaderAfter)
		Expect(leaderAfter.ProdSetReconciles).To(BeNumerically(">", leaderBefore.ProdSetReconciles), "the leader reconciled the set")
		Expect(leaderAfter.CloudWrites).To(BeNumerically(">", leaderBefore.CloudWrites), "the leader changed Route53")
		follower, err := activityOf(ctx, second)
		Expect(err).NotTo(HaveOccurred())
		Expect(follower.none()).To(BeTrue(), "the follower did something while the leader rolled out v4: %s", follower)

		Byf("Killing the leader %s (SIGKILL: the Lease is not released)", first.name)
		first.kill()
		killed := time.Now()
		manager = second // the suite's waits follow the replica that leads
		v5 := shipVersion(ctx, key, "v5")
		GinkgoWriter.Printf("%s took over and saw v5 %s after %s was killed\n", second.name, time.Since(killed).Round(time.Second), first.name)
		Expect(second.isLeader()).To(BeTrue(), "%s took over", second.name)
		waitForRollout(ctx, waitForRolloutInput{Key: key, Revision: v5, Phase: droverv1.RolloutSucceeded})
		waitForSetServing(ctx, waitForSetServingInput{Key: key, Version: "v5"})
		took, err := activityOf(ctx, second)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("the new leader %s: %s\n", second.name, took)
		Expect(took.ProdSetReconciles).To(BeNumerically(">", 0), "the new leader reconciled the set")
		Expect(took.CloudWrites).To(BeNumerically(">", 0), "the new leader changed Route53")
		set := getSet(ctx, Default, key)
		Expect(set.Status.RolloutHistory).To(ContainElement(And(HaveField("Revision", v4), HaveField("Superseded", true))), "v4 gave way to v5")

		By("Handing back: the killed replica comes back as a follower, then the other is killed")
		first.restart()
		Eventually(func() bool { return metricsUp(first) }, time.Minute, 250*time.Millisecond).Should(BeTrue())
		Consistently(func(g Gomega) {
			g.Expect(second.isLeader()).To(BeTrue())
			g.Expect(first.isLeader()).To(BeFalse())
			a, err := activityOf(ctx, first)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(a.none()).To(BeTrue(), "the restarted follower did something: %s", a)
		}, 5*time.Second, 500*time.Millisecond).Should(Succeed())
		second.kill()
		manager = first
		waitForLeader(first)
		waitForSetServing(ctx, waitForSetServingInput{Key: key, Version: "v5"})
	}, NodeTimeout(12*time.Minute))
})

// followPolicy points the set at the RolloutPolicy named policy (not a template change:
// no new revision) and waits until drover saw it.
func followPolicy(ctx SpecContext, key client.ObjectKey, policy string) {
	set := getSet(ctx, Default, key)
	if set.Spec.RolloutPolicyRef != nil && set.Spec.RolloutPolicyRef.Name == policy {
		return
	}
	patch := client.MergeFrom(set.DeepCopy())
	set.Spec.RolloutPolicyRef = &droverv1.LocalObjectReference{Name: policy}
	Expect(cp.Patch(ctx, set, patch)).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(getSet(ctx, g, key).Status.ObservedGeneration).To(BeNumerically(">=", set.Generation))
	}, time.Minute, 250*time.Millisecond).Should(Succeed(), "drover never saw ProdSet %s follow %s", key, policy)
}

// promote gives the set's rollout the promote command (the annotation kubectl drover
// rollout promote writes) and waits until drover read it.
func promote(ctx SpecContext, key client.ObjectKey) {
	value := fmt.Sprintf("promote@%d", time.Now().UnixNano())
	set := getSet(ctx, Default, key)
	patch := client.MergeFrom(set.DeepCopy())
	if set.Annotations == nil {
		set.Annotations = map[string]string{}
	}
	set.Annotations[droverv1.RolloutCommandAnnotation] = value
	Expect(cp.Patch(ctx, set, patch)).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(getSet(ctx, g, key).Status.ObservedRolloutCommand).To(Equal(value))
	}, time.Minute, 250*time.Millisecond).Should(Succeed(), "drover never read %s", value)
}

// summaryOf is the set's status summary of the Prod named name.
func summaryOf(set *droverv1.ProdSet, name string) *droverv1.ProdSummary {
	for i := range set.Status.Prods {
		if set.Status.Prods[i].Name == name {
			return &set.Status.Prods[i]
		}
	}
	return nil
}

// endpointLB is the Octavia load balancer of the Prod named name among prods.
func endpointLB(prods []droverv1.Prod, name string) string {
	for i := range prods {
		if prods[i].Name == name && prods[i].Status.Endpoint != nil {
			return prods[i].Status.Endpoint.LoadBalancerID
		}
	}
	return ""
}

// expectUpdatedOnce checks each Prod's objects on its workload cluster against what they
// were before the rollout: the same ConfigMap, Deployment and Service (same UIDs: nothing
// deleted and made again), and the Deployment's spec changed exactly once (generation
// + 1), to the image of version, and rolled out.
func expectUpdatedOnce(ctx SpecContext, before map[string]map[string]workloadObject, prods []droverv1.Prod, version string) {
	now := readWorkloadObjects(ctx, Default, faultsSet, prods)
	Expect(slices.Sorted(maps.Keys(now))).To(Equal(slices.Sorted(maps.Keys(before))), "the Prods with objects")
	for i := range prods {
		p := &prods[i]
		for kind, b := range before[p.Name] {
			a := now[p.Name][kind]
			Expect(a.UID).To(Equal(b.UID), "%s %s of Prod %s on %s was deleted and made again", kind, b.Name, p.Name, b.Cluster)
		}
		d := readDeployment(ctx, Default, faultsSet, p)
		Expect(deploymentRunsImage(d, appImage(faultsSet, version))).To(BeTrue(), "Deployment of Prod %s runs %s", p.Name, appImage(faultsSet, version))
		Expect(deploymentRolledOut(d)).To(BeTrue(), describeDeployment("Deployment of Prod "+p.Name+" rolled out", d, nil))
		Expect(d.Generation).To(Equal(before[p.Name]["Deployment"].Generation+1), "the Deployment of Prod %s changed once (generation %d → %d)",
			p.Name, before[p.Name]["Deployment"].Generation, d.Generation)
	}
}

// expectLedger logs the ledger's counts and fails with every problem it found.
func expectLedger(l *faultLedger, exp ledgerExpectation) {
	problems, report := l.verifyRollout(exp)
	GinkgoWriter.Printf("ledger of the rollout of %s (from %s):\n%s\n", shortRev(exp.Revision), shortRev(exp.Previous), report)
	Expect(problems).To(BeEmpty(), "the ledger of the rollout:\n%s", report)
}

// expectCloudsClean checks that moto has one NLB per Prod and exactly each Prod's three
// records, and returns the NLBs by Prod.
func expectCloudsClean(ctx SpecContext, key client.ObjectKey, prods []droverv1.Prod) map[string]string {
	By("Checking the clouds: one NLB per Prod, three records per Prod, nothing else of the set's")
	expectRecordsOfProdsOnly(ctx, Default, key, prods)
	return expectOneNLBPerProd(ctx, Default, key, prods)
}
