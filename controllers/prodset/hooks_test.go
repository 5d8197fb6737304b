package prodset_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	runtimehooksv1 "sigs.k8s.io/cluster-api/api/runtime/hooks/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/hooks"
	"github.com/drover-dev/drover/internal/test/hookstest"
)

// TestUpgradeHookHoldsTheUpgradeUntilDrained plays Cluster API upgrading eu-1 through a
// ClusterClass: it calls BeforeClusterUpgrade over HTTPS until the answer is "proceed",
// restarts the cluster's API server as the upgrade, then calls AfterClusterUpgrade until
// it is done. drover's real controllers do the drain in between.
func TestUpgradeHookHoldsTheUpgradeUntilDrained(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	caPEM, certDir := hookstest.ServeCert(t)
	clientCA := hookstest.NewClientCA(t, "cluster-api client CA")
	port := hookstest.FreePort(t)
	srv, err := hooks.NewServer(cp, hooks.Options{Host: "127.0.0.1", Port: port, CertDir: certDir, RetryAfter: time.Second,
		ClientCAFile: clientCA.File, ClientNames: []string{"capi-controller-manager"}})
	g.Expect(err).NotTo(HaveOccurred())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Log("runtime extension server:", err)
		}
	})
	capi, err := hookstest.NewCaller(fmt.Sprintf("https://127.0.0.1:%d", port), caPEM, clientCA.Issue(t, "capi-controller-manager").Certificate)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(capi.Ready, 10*time.Second, 100*time.Millisecond).Should(Succeed())

	set := newSet(t, "upgrade", 3, nil)
	names := expectServing(g, set, eu1, eu2, us1)

	// Cluster API's topology controller is upgrading eu-1: its topology names the new
	// version, its control plane still runs the old one.
	markUpgrade(t, eu1, hookstest.FromVersion)

	// BeforeClusterUpgrade: retried until drained, as Cluster API does.
	retries := 0
	var last *runtimehooksv1.BeforeClusterUpgradeResponse
	g.Eventually(func(g Gomega) {
		last = capi.BeforeUpgrade(g, bed.Namespace, eu1)
		g.Expect(last.Status).To(Equal(runtimehooksv1.ResponseStatusSuccess), last.Message)
		if last.RetryAfterSeconds > 0 {
			retries++
		}
		g.Expect(last.RetryAfterSeconds).To(BeZero(), last.Message)
	}, 60*time.Second, time.Second).Should(Succeed())
	g.Expect(retries).To(BeNumerically(">", 0), "the upgrade was held at least once")
	t.Logf("BeforeClusterUpgrade: %d retries, then %q", retries, last.Message)
	g.Expect(records(g, set)).To(HaveKeyWithValue(recordID(set, names[eu1]), int32(0)), "drained before the upgrade proceeds")
	m := &droverv1.ClusterMaintenance{}
	g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: bed.Namespace, Name: eu1 + "-upgrade"}, m)).To(Succeed())
	g.Expect(m.Status.Phase).To(Equal(droverv1.MaintenanceDrained))

	// The upgrade.
	g.Expect(bed.Workload(eu1).RestartAPIServer()).To(Succeed())
	markUpgrade(t, eu1, hookstest.ToVersion)

	// AfterClusterUpgrade: retried until the cluster is back in traffic.
	g.Eventually(func(g Gomega) {
		g.Expect(capi.AfterUpgrade(g, bed.Namespace, eu1).RetryAfterSeconds).To(BeZero())
	}, 60*time.Second, time.Second).Should(Succeed())
	expectServing(g, set, eu1, eu2, us1)
	list := &droverv1.ClusterMaintenanceList{}
	g.Expect(cp.List(ctx, list, client.InNamespace(bed.Namespace))).To(Succeed())
	g.Expect(list.Items).To(BeEmpty())
	g.Expect(minPublished(set, 3)).To(BeNumerically(">=", 2))
}

// markUpgrade makes the Cluster look under upgrade to hookstest's version, its control
// plane running controlPlane, as Cluster API would; the Cluster is put back as it was
// when the test ends.
func markUpgrade(t *testing.T, name, controlPlane string) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	orig := &clusterv1.Cluster{}
	g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: bed.Namespace, Name: name}, orig)).To(Succeed())
	g.Expect(hookstest.MarkUpgrade(ctx, cp, client.ObjectKeyFromObject(orig), controlPlane)).To(Succeed())
	t.Cleanup(func() {
		cur := &clusterv1.Cluster{}
		if err := cp.Get(ctx, client.ObjectKeyFromObject(orig), cur); err != nil {
			return
		}
		back := cur.DeepCopy()
		back.Spec.Topology = orig.Spec.Topology
		_ = cp.Patch(ctx, back, client.MergeFrom(cur))
		cur = back.DeepCopy()
		back.Status.ControlPlane = orig.Status.ControlPlane
		_ = cp.Status().Patch(ctx, back, client.MergeFrom(cur))
	})
}
