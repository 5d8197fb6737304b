package e2e

import (
	"context"
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	runtimehooksv1 "sigs.k8s.io/cluster-api/api/runtime/hooks/v1alpha1"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// The platform team upgrades a cluster: drover refuses a drain that would leave a
// ProdSet below its serving minimum, drains with surge, and lets Cluster API's upgrade
// hook wait for the drain — all against the manager binary.
var _ = Describe("The platform team upgrades a cluster", Ordered, func() {
	const (
		poolLabel = "drover.dev/pool"
		setName   = "platform"
		target    = "workload-2"
	)
	var set *droverv1.ProdSet

	BeforeAll(func(ctx SpecContext) {
		By("putting the three clusters in the pool")
		for _, w := range bed.Workloads {
			Eventually(func() error {
				c := &clusterv1.Cluster{}
				if err := cp.Get(ctx, client.ObjectKey{Namespace: bed.Namespace, Name: w.Name}, c); err != nil {
					return err
				}
				c.Labels[poolLabel] = setName
				return cp.Update(ctx, c)
			}).Should(Succeed())
		}
		cm, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "settings"}})
		Expect(err).NotTo(HaveOccurred())
		set = &droverv1.ProdSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: setName},
			Spec: droverv1.ProdSetSpec{
				Replicas: ptr.To[int32](2),
				Template: droverv1.ProdTemplate{Spec: droverv1.ProdTemplateSpec{
					Version: "v1", TargetNamespace: setName, Manifests: []runtime.RawExtension{{Raw: cm}},
				}},
				Placement: droverv1.Placement{
					ClusterSelector: droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{poolLabel: setName}},
					TopologyKey:     regionLabel, MaxPerCluster: 1,
					MinAvailable: ptr.To(intstr.FromInt32(2)),
				},
				Traffic: &droverv1.ProdSetTraffic{HostedZoneID: zoneID, RecordName: "platform." + zoneName, TTL: 1},
			},
		}
		By("applying a ProdSet of 2 Prods that must always keep 2 serving")
		Expect(cp.Create(ctx, set)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(client.IgnoreNotFound(cp.Delete(ctx, set))).To(Succeed())
			Eventually(func() bool {
				return apierrors.IsNotFound(cp.Get(ctx, client.ObjectKeyFromObject(set), &droverv1.ProdSet{}))
			}, 2*time.Minute, time.Second).Should(BeTrue(), "the ProdSet drains its Prods and goes")
		}, NodeTimeout(3*time.Minute))
		// workload-1 (eu) and workload-3 (us): one per region.
		waitForServing(ctx, set, "workload-1", "workload-3")
	}, NodeTimeout(3*time.Minute))

	It("refuses to drain a cluster when that would break the serving minimum", func(ctx SpecContext) {
		m := &droverv1.ClusterMaintenance{
			ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: "workload-1-now"},
			Spec:       droverv1.ClusterMaintenanceSpec{ClusterName: "workload-1"},
		}
		Expect(cp.Create(ctx, m)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(m), m)).To(Succeed())
			g.Expect(m.Status.Phase).To(Equal(droverv1.MaintenanceRefused))
			g.Expect(conditions.GetMessage(m, droverv1.MaintenanceAdmittedCondition)).To(
				ContainSubstring("ProdSet default/platform would have 1 serving Prod, below its minimum of 2"))
		}, time.Minute, 500*time.Millisecond).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(servingOf(g, set)).To(Equal(2))
		}, 3*time.Second, 500*time.Millisecond).Should(Succeed())
		Expect(cp.Delete(ctx, m)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(cp.Get(ctx, client.ObjectKeyFromObject(m), m))
		}, time.Minute, 500*time.Millisecond).Should(BeTrue())
	}, NodeTimeout(2*time.Minute))

	It("holds a Cluster API upgrade until the cluster is drained, with a stand-in placed first", func(ctx SpecContext) {
		By("workload-3 carries a Prod; its upgrade needs a stand-in on " + target)
		Eventually(func(g Gomega) {
			g.Expect(clustersOf(g, set)).To(ContainElement("workload-3"))
		}).Should(Succeed())

		By("letting the hooks' maintenances surge: a drain without one would be refused")
		retries := 0
		Eventually(func(g Gomega) {
			resp := beforeUpgrade(g, "workload-3")
			if resp.RetryAfterSeconds > 0 {
				retries++
				// The platform team allows a surge on the maintenance the hook made.
				mm := &droverv1.ClusterMaintenance{}
				if err := cp.Get(ctx, client.ObjectKey{Namespace: bed.Namespace, Name: "workload-3-upgrade"}, mm); err == nil && !mm.Spec.Surge {
					mm.Spec.Surge = true
					_ = cp.Update(ctx, mm)
				}
			}
			g.Expect(resp.RetryAfterSeconds).To(BeZero(), resp.Message)
			g.Expect(servingOf(g, set)).To(BeNumerically(">=", 2))
		}, 2*time.Minute, time.Second).Should(Succeed())
		Expect(retries).To(BeNumerically(">", 0), "the upgrade was held")
		Expect(clustersOf(Default, set)).To(ContainElements("workload-1", "workload-3", target))

		By("upgrading: restarting the API server of workload-3")
		Expect(bed.Workload("workload-3").RestartAPIServer()).To(Succeed())

		By("AfterClusterUpgrade restores the cluster and the stand-in goes")
		Eventually(func(g Gomega) {
			g.Expect(afterUpgrade(g, "workload-3").RetryAfterSeconds).To(BeZero())
		}, 2*time.Minute, time.Second).Should(Succeed())
		waitForServing(ctx, set, "workload-1", "workload-3")
	}, NodeTimeout(5*time.Minute))
})

// waitForServing waits until the set has exactly one Prod on each of clusters, all
// available and published in DNS at their weight.
func waitForServing(ctx context.Context, set *droverv1.ProdSet, clusters ...string) {
	Byf("Waiting for ProdSet %s to serve from %v", set.Name, clusters)
	Eventually(func(g Gomega) {
		g.Expect(clustersOf(g, set)).To(ConsistOf(clusters))
		got := &droverv1.ProdSet{}
		g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(set), got)).To(Succeed())
		g.Expect(got.Status.ServingReplicas).To(BeEquivalentTo(len(clusters)))
		g.Expect(conditions.IsTrue(got, droverv1.ProdSetTrafficReadyCondition)).To(BeTrue(), "%v", conditions.Get(got, droverv1.ProdSetTrafficReadyCondition))
		stopIfManagerExited(manager.Manager)
	}, 2*time.Minute, 500*time.Millisecond).Should(Succeed())
}

func clustersOf(g Gomega, set *droverv1.ProdSet) []string {
	list := &droverv1.ProdList{}
	g.Expect(cp.List(context.Background(), list, client.InNamespace(set.Namespace),
		client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name})).To(Succeed())
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Spec.ClusterRef.Name)
	}
	return out
}

// servingOf counts the set's Prods that are available with a non-zero weight in DNS.
func servingOf(g Gomega, set *droverv1.ProdSet) int {
	got := &droverv1.ProdSet{}
	g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(set), got)).To(Succeed())
	n := 0
	for _, p := range got.Status.Prods {
		if p.Available == metav1.ConditionTrue && p.PublishedWeight != nil && *p.PublishedWeight > 0 {
			n++
		}
	}
	return n
}

func beforeUpgrade(g Gomega, cluster string) *runtimehooksv1.BeforeClusterUpgradeResponse {
	resp := hooks.BeforeUpgrade(g, bed.Namespace, cluster)
	g.Expect(resp.Status).To(Equal(runtimehooksv1.ResponseStatusSuccess), resp.Message)
	return resp
}

func afterUpgrade(g Gomega, cluster string) *runtimehooksv1.AfterClusterUpgradeResponse {
	return hooks.AfterUpgrade(g, bed.Namespace, cluster)
}
