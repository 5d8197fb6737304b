package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	runtimehooksv1 "sigs.k8s.io/cluster-api/api/runtime/hooks/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/hookstest"
)

// maintenanceWait is how long a drain or a restore gets.
var maintenanceWait = []any{3 * time.Minute, 250 * time.Millisecond}

// platformTeamSpecs are the platform team's part of the shop's story: drain a cluster,
// "upgrade" it, restore it; be refused a second drain that would leave too few serving;
// let Cluster API's upgrade hook wait for a drain. The story's sampler checks the
// serving minimum throughout.
func platformTeamSpecs(story *shopStory) {
	// drained is the EU cluster with 2 Prods, drained by hand; hooked is the US cluster
	// with 2 Prods, refused while drained is, then drained by the upgrade hook.
	var drained, hooked string

	It("the platform team drains a cluster with `kubectl drover cluster drain`: its Prods leave traffic, the others keep serving", func(ctx SpecContext) {
		prods := listSetProds(ctx, Default, story.key)
		drained, hooked = clusterWith(prods, "eu", 2), clusterWith(prods, "us", 2)
		Expect(drained).NotTo(BeEmpty(), "no EU cluster with 2 Prods: %v", prodsByCluster(prods))
		Expect(hooked).NotTo(BeEmpty(), "no US cluster with 2 Prods: %v", prodsByCluster(prods))

		out, err := plugin(ctx, "-n", story.key.Namespace, "cluster", "drain", drained, "--reason", "e2e: upgrade", "--wait", "--timeout", "3m")
		GinkgoWriter.Println(out)
		Expect(err).NotTo(HaveOccurred(), "kubectl drover cluster drain %s: %s", drained, out)
		Expect(out).To(ContainSubstring("cluster %s is drained", drained))

		m := getMaintenance(ctx, Default, drained+"-maintenance")
		Expect(m.Status.Phase).To(Equal(droverv1.MaintenanceDrained))
		Expect(m.Status.DrainedTime).NotTo(BeNil())
		expectWeights(ctx, story.key, drained)
		set := getSet(ctx, Default, story.key)
		Expect(set.Status.ServingReplicas).To(BeEquivalentTo(defaultSetReplicas - 2))
		for _, p := range set.Status.Prods {
			if p.Cluster == drained {
				Expect(p).To(And(HaveField("Evicted", "ClusterMaintenance"), HaveField("Drained", BeTrue())), "Prod %s on the drained cluster", p.Name)
			}
		}
	}, SpecTimeout(4*time.Minute))

	It("refuses to drain a second cluster while that would leave the shop below its serving minimum", func(ctx SpecContext) {
		out, err := plugin(ctx, "-n", story.key.Namespace, "cluster", "drain", hooked, "--wait", "--timeout", "2m")
		GinkgoWriter.Println(out)
		var exit *exec.ExitError
		Expect(errors.As(err, &exit)).To(BeTrue(), "kubectl drover cluster drain %s: %v: %s", hooked, err, out)
		Expect(exit.ExitCode()).To(Equal(2), "the exit code of a refused drain: %s", out)
		want := fmt.Sprintf("ProdSet %s would have 2 serving Prods, below its minimum of %d", story.key, defaultMinAvailable)
		Expect(out).To(ContainSubstring(want))
		m := getMaintenance(ctx, Default, hooked+"-maintenance")
		Expect(m.Status.Phase).To(Equal(droverv1.MaintenanceRefused))
		Expect(meta.FindStatusCondition(m.Status.Conditions, droverv1.MaintenanceAdmittedCondition)).To(HaveField("Message", ContainSubstring(want)))

		By("nothing moved: the refused cluster's Prods keep their weights")
		Consistently(func(g Gomega) {
			expectWeightsG(ctx, g, story.key, drained)
		}, 3*time.Second, 500*time.Millisecond).Should(Succeed())

		By("withdrawing the refused maintenance")
		out, err = plugin(ctx, "-n", story.key.Namespace, "cluster", "restore", hooked, "--wait", "--timeout", "2m")
		Expect(err).NotTo(HaveOccurred(), "kubectl drover cluster restore %s: %s", hooked, out)
		waitForMaintenanceGone(ctx, hooked+"-maintenance")
		expectWeights(ctx, story.key, drained)
	}, SpecTimeout(3*time.Minute))

	It("upgrades the drained cluster (restarts its API server) and restores it: its Prods get their weights back", func(ctx SpecContext) {
		// An upgrade would start the cluster's API server at a new Kubernetes version; the
		// machine is offline and has one version of the test binaries (bin/k8s), so the
		// "upgrade" restarts the same binary: the cluster is away, then back.
		Byf("upgrading %s: restarting its API server", drained)
		Expect(bed.Workload(drained).RestartAPIServer()).To(Succeed())
		Eventually(func(g Gomega) {
			for _, p := range listSetProds(ctx, g, story.key) {
				if p.Spec.ClusterRef.Name == drained {
					g.Expect(meta.IsStatusConditionTrue(p.Status.Conditions, droverv1.ProdClusterReachableCondition)).To(BeTrue(), "Prod %s reachable", p.Name)
				}
			}
			expectWeightsG(ctx, g, story.key, drained)
		}, 2*time.Minute, 500*time.Millisecond).Should(Succeed(), "the upgraded cluster's Prods are reachable again, still out of traffic")

		out, err := plugin(ctx, "-n", story.key.Namespace, "cluster", "restore", drained, "--wait", "--timeout", "3m")
		GinkgoWriter.Println(out)
		Expect(err).NotTo(HaveOccurred(), "kubectl drover cluster restore %s: %s", drained, out)
		waitForMaintenanceGone(ctx, drained+"-maintenance")
		waitForSetServing(ctx, waitForSetServingInput{Key: story.key, Version: "v2"})
	}, SpecTimeout(5*time.Minute))

	It("Cluster API's BeforeClusterUpgrade holds an upgrade until the cluster is drained; AfterClusterUpgrade restores it", func(ctx SpecContext) {
		name := hooked + "-upgrade"
		// The hooks drain only a Cluster that is being upgraded, as Cluster API's
		// topology controller sees it: its spec.topology.version is the new version, its
		// control plane runs the old one.
		markUpgrade(ctx, hooked, hookstest.FromVersion)
		var (
			held    int    // answers that held the upgrade
			early   int    // answers of 0 before the maintenance was Drained
			late    int    // answers holding after it was Drained already
			message string // the last holding answer's message
		)
		Eventually(func(g Gomega) {
			stopIfManagerExited(manager.Manager)
			before := maintenancePhase(ctx, name)
			resp := beforeUpgrade(g, hooked)
			after := maintenancePhase(ctx, name)
			switch {
			case resp.RetryAfterSeconds > 0:
				held++
				message = resp.Message
				if before == droverv1.MaintenanceDrained {
					late++
				}
			case after != droverv1.MaintenanceDrained:
				early++
			}
			g.Expect(resp.RetryAfterSeconds).To(BeZero(), "the hook holds the upgrade: %s", resp.Message)
		}, maintenanceWait...).Should(Succeed())
		GinkgoWriter.Printf("BeforeClusterUpgrade held the upgrade %d times; the last message: %s\n", held, message)
		Expect(held).To(BeNumerically(">", 0), "the hook held the upgrade while the cluster drained")
		Expect(early).To(BeZero(), "the hook let the upgrade go before the cluster was drained")
		Expect(late).To(BeZero(), "the hook held the upgrade of a drained cluster")
		m := getMaintenance(ctx, Default, name)
		Expect(m.Spec.ClusterName).To(Equal(hooked))
		Expect(m.Status.Phase).To(Equal(droverv1.MaintenanceDrained))
		expectWeights(ctx, story.key, hooked)

		Byf("upgrading %s: restarting its API server (the same version, as above)", hooked)
		Expect(bed.Workload(hooked).RestartAPIServer()).To(Succeed())
		markUpgrade(ctx, hooked, hookstest.ToVersion)
		Eventually(func(g Gomega) {
			g.Expect(afterUpgrade(g, hooked).RetryAfterSeconds).To(BeZero())
		}, 2*time.Minute, time.Second).Should(Succeed())
		waitForMaintenanceGone(ctx, name)
		waitForSetServing(ctx, waitForSetServingInput{Key: story.key, Version: "v2"})
	}, SpecTimeout(6*time.Minute))

	It("at no moment since it first served did the shop have fewer serving Prods than its minimum", func() {
		story.sampler.stop()
		samples := story.sampler.samplesOf(story.key)
		GinkgoWriter.Printf("the sampler took %d readings of the shop (%d failed)\n", len(samples), story.sampler.failedReadings())
		Expect(len(samples)).To(BeNumerically(">=", 200), "the sampler read the shop too few times for the check to mean anything")
		lowest := slices.MinFunc(samples, func(a, b servingSample) int { return a.Serving - b.Serving })
		GinkgoWriter.Printf("fewest serving: %d at %s\n", lowest.Serving, lowest.At.Format("15:04:05.000"))
		Expect(lowest.Serving).To(BeNumerically("<", defaultSetReplicas), "the sampler saw Prods leave traffic (drains, rollouts)")
		for _, s := range samples {
			Expect(s.MinServing).To(Equal(defaultMinAvailable), "status.minServing at %s", s.At.Format("15:04:05.000"))
		}
		Expect(story.sampler.belowMinimum(story.key, defaultMinAvailable)).To(BeEmpty(), "readings below the minimum of %d", defaultMinAvailable)
	})
}

// clusterWith returns the cluster of region that runs n of prods ("" if none).
func clusterWith(prods []droverv1.Prod, region string, n int) string {
	byCluster := prodsByCluster(prods)
	var out []string
	for c, names := range byCluster {
		if regionOf(c) == region && len(names) == n {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return ""
	}
	return out[0]
}

// getMaintenance reads the ClusterMaintenance name in the Clusters' namespace.
func getMaintenance(ctx context.Context, g Gomega, name string) *droverv1.ClusterMaintenance {
	m := &droverv1.ClusterMaintenance{}
	g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: bed.Namespace, Name: name}, m)).To(Succeed(), "reading ClusterMaintenance %s", name)
	return m
}

// maintenancePhase is the phase of the ClusterMaintenance name; "" when it cannot be read.
func maintenancePhase(ctx context.Context, name string) droverv1.MaintenancePhase {
	m := &droverv1.ClusterMaintenance{}
	if err := cp.Get(ctx, client.ObjectKey{Namespace: bed.Namespace, Name: name}, m); err != nil {
		return ""
	}
	return m.Status.Phase
}

// waitForMaintenanceGone waits until the ClusterMaintenance name is gone: its cluster's
// Prods are back in traffic.
func waitForMaintenanceGone(ctx context.Context, name string) {
	Byf("Waiting for ClusterMaintenance %s to be gone", name)
	Eventually(func() bool {
		stopIfManagerExited(manager.Manager)
		err := cp.Get(ctx, client.ObjectKey{Namespace: bed.Namespace, Name: name}, &droverv1.ClusterMaintenance{})
		return apierrors.IsNotFound(err)
	}, maintenanceWait...).Should(BeTrue(), "ClusterMaintenance %s is still there", name)
}

// expectWeights checks Route53: the set's Prods on the out clusters at weight 0, every
// other at its desired weight.
func expectWeights(ctx context.Context, key client.ObjectKey, out ...string) {
	expectWeightsG(ctx, Default, key, out...)
}

// expectWeightsG is expectWeights with a Gomega, for Eventually and Consistently.
func expectWeightsG(ctx context.Context, g Gomega, key client.ObjectKey, out ...string) {
	recs, err := readSetRecords(ctx, key)
	g.Expect(err).NotTo(HaveOccurred())
	prods := listSetProds(ctx, g, key)
	g.Expect(recs).To(HaveLen(len(prods)), "the Prods with records")
	for i := range prods {
		p := &prods[i]
		r := recs[prodKey(p)]
		g.Expect(r.Weight).NotTo(BeNil(), "Prod %s has no service-level record", p.Name)
		if slices.Contains(out, p.Spec.ClusterRef.Name) {
			g.Expect(*r.Weight).To(BeZero(), "the weight of Prod %s, on %s, in Route53", p.Name, p.Spec.ClusterRef.Name)
		} else {
			g.Expect(*r.Weight).To(BeEquivalentTo(p.DesiredWeight()), "the weight of Prod %s, on %s, in Route53", p.Name, p.Spec.ClusterRef.Name)
		}
	}
}

// markUpgrade makes the Cluster name look under upgrade to hookstest's version, its
// control plane running controlPlane, as Cluster API would.
func markUpgrade(ctx context.Context, name, controlPlane string) {
	Expect(hookstest.MarkUpgrade(ctx, cp, client.ObjectKey{Namespace: bed.Namespace, Name: name}, controlPlane)).To(Succeed())
}

func beforeUpgrade(g Gomega, cluster string) *runtimehooksv1.BeforeClusterUpgradeResponse {
	resp := hooks.BeforeUpgrade(g, bed.Namespace, cluster)
	g.Expect(resp.Status).To(Equal(runtimehooksv1.ResponseStatusSuccess), resp.Message)
	return resp
}

func afterUpgrade(g Gomega, cluster string) *runtimehooksv1.AfterClusterUpgradeResponse {
	return hooks.AfterUpgrade(g, bed.Namespace, cluster)
}
