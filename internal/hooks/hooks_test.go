package hooks_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimecatalog "sigs.k8s.io/cluster-api/api/runtime/catalog"
	runtimehooksv1 "sigs.k8s.io/cluster-api/api/runtime/hooks/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/harness"
	"github.com/drover-dev/drover/internal/hooks"
	"github.com/drover-dev/drover/internal/hooks/hookstest"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/testbed"
)

// The Runtime Extension is called over HTTPS the way Cluster API's runtime client calls
// it: a POST of the hook's request object as JSON to the path the catalog gives for the
// hook and handler name, the server verified against the CA bundle of the
// ExtensionConfig. (Cluster API's client itself lives in an internal package of its
// module and cannot be imported.) The ClusterMaintenances live in a real API server; the
// test plays the maintenance controller by writing their status.
func TestRuntimeExtension(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root, err := testbed.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	bed, err := testbed.Start(ctx, testbed.Options{
		Scheme:            setup.Scheme(),
		CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")},
		Logf:              t.Logf,
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = bed.Stop() })
	cp := bed.ControlPlane.Client

	caPEM, certDir := hookstest.ServeCert(t)
	port := hookstest.FreePort(t)
	srv, err := hooks.NewServer(cp, hooks.Options{Host: "127.0.0.1", Port: port, CertDir: certDir, RetryAfter: 7 * time.Second})
	g.Expect(err).NotTo(HaveOccurred())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Log("runtime extension server:", err)
		}
	})

	c, err := hookstest.NewCaller(fmt.Sprintf("https://127.0.0.1:%d", port), caPEM)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(c.Ready, 10*time.Second, 100*time.Millisecond).Should(Succeed())

	t.Run("discovery lists both hooks", func(t *testing.T) {
		g := NewWithT(t)
		resp := &runtimehooksv1.DiscoveryResponse{}
		c.Call(g, runtimehooksv1.Discovery, "", &runtimehooksv1.DiscoveryRequest{}, resp)
		g.Expect(resp.Status).To(Equal(runtimehooksv1.ResponseStatusSuccess))
		var got []string
		for _, h := range resp.Handlers {
			got = append(got, h.RequestHook.Hook+"/"+h.Name)
		}
		g.Expect(got).To(ConsistOf("BeforeClusterUpgrade/"+hooks.BeforeClusterUpgradeHandler, "AfterClusterUpgrade/"+hooks.AfterClusterUpgradeHandler))
	})

	t.Run("an upgrade waits for the drain, then proceeds, then re-admits", func(t *testing.T) {
		g := NewWithT(t)
		before := c.BeforeUpgrade(g, bed.Namespace, "workload-a")
		g.Expect(before.Status).To(Equal(runtimehooksv1.ResponseStatusSuccess))
		g.Expect(before.RetryAfterSeconds).To(BeEquivalentTo(7))
		g.Expect(before.Message).To(ContainSubstring("ClusterMaintenance workload-a-upgrade is Pending"))

		m := &droverv1.ClusterMaintenance{}
		g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: bed.Namespace, Name: "workload-a-upgrade"}, m)).To(Succeed())
		g.Expect(m.Spec.ClusterName).To(Equal("workload-a"))
		g.Expect(m.Spec.Reason).To(Equal("Cluster API upgrade to v1.36.3"))
		g.Expect(m.Labels).To(HaveKeyWithValue(hooks.CreatedByLabel, hooks.CreatedBy))

		// Called again: the same maintenance, no second one.
		setPhase(g, cp, m, droverv1.MaintenanceDraining, droverv1.MaintenanceDrainedCondition, "1 of 2 Prods drained; waiting for shop-workload-a")
		again := c.BeforeUpgrade(g, bed.Namespace, "workload-a")
		g.Expect(again.RetryAfterSeconds).To(BeEquivalentTo(7))
		g.Expect(again.Message).To(ContainSubstring("is Draining: 1 of 2 Prods drained; waiting for shop-workload-a"))
		list := &droverv1.ClusterMaintenanceList{}
		g.Expect(cp.List(ctx, list, client.InNamespace(bed.Namespace))).To(Succeed())
		g.Expect(list.Items).To(HaveLen(1))

		setPhase(g, cp, m, droverv1.MaintenanceDrained, droverv1.MaintenanceDrainedCondition, "all drained")
		proceed := c.BeforeUpgrade(g, bed.Namespace, "workload-a")
		g.Expect(proceed.Status).To(Equal(runtimehooksv1.ResponseStatusSuccess))
		g.Expect(proceed.RetryAfterSeconds).To(BeZero(), "a drained cluster may be upgraded")

		// After the upgrade: ours is deleted; while its finalizer holds it, the hook waits.
		g.Expect(addFinalizer(ctx, cp, m)).To(Succeed())
		after := c.AfterUpgrade(g, bed.Namespace, "workload-a")
		g.Expect(after.Status).To(Equal(runtimehooksv1.ResponseStatusSuccess))
		g.Expect(after.RetryAfterSeconds).To(BeEquivalentTo(7))
		g.Expect(after.Message).To(ContainSubstring("waiting for ClusterMaintenance workload-a-upgrade to end"))
		g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(m), m)).To(Succeed())
		g.Expect(m.DeletionTimestamp.IsZero()).To(BeFalse(), "AfterClusterUpgrade deletes the maintenance it created")
		m.Finalizers = nil
		g.Expect(cp.Update(ctx, m)).To(Succeed())
		g.Expect(c.AfterUpgrade(g, bed.Namespace, "workload-a").RetryAfterSeconds).To(BeZero())
	})

	t.Run("a maintenance someone created is used and left alone", func(t *testing.T) {
		g := NewWithT(t)
		mine := &droverv1.ClusterMaintenance{
			ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: "platform-team-drain"},
			Spec:       droverv1.ClusterMaintenanceSpec{ClusterName: "workload-b", Surge: true},
		}
		g.Expect(cp.Create(ctx, mine)).To(Succeed())
		setPhase(g, cp, mine, droverv1.MaintenanceRefused, droverv1.MaintenanceAdmittedCondition, "draining cluster workload-b is refused: ProdSet default/shop would have 1 serving Prod")
		resp := c.BeforeUpgrade(g, bed.Namespace, "workload-b")
		g.Expect(resp.RetryAfterSeconds).To(BeEquivalentTo(7), "a refused drain holds the upgrade")
		g.Expect(resp.Message).To(ContainSubstring("platform-team-drain is Refused: draining cluster workload-b is refused"))
		list := &droverv1.ClusterMaintenanceList{}
		g.Expect(cp.List(ctx, list, client.InNamespace(bed.Namespace))).To(Succeed())
		g.Expect(list.Items).To(HaveLen(1))

		g.Expect(c.AfterUpgrade(g, bed.Namespace, "workload-b").RetryAfterSeconds).To(BeZero())
		g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(mine), mine)).To(Succeed())
		g.Expect(mine.DeletionTimestamp.IsZero()).To(BeTrue(), "the platform team's maintenance is theirs to end")
	})

	t.Run("plain HTTP is refused", func(t *testing.T) {
		g := NewWithT(t)
		gvh, err := hookstest.Catalog().GroupVersionHook(runtimehooksv1.BeforeClusterUpgrade)
		g.Expect(err).NotTo(HaveOccurred())
		url := fmt.Sprintf("http://127.0.0.1:%d%s", port, runtimecatalog.GVHToPath(gvh, hooks.BeforeClusterUpgradeHandler))
		resp, err := http.Post(url, "application/json", strings.NewReader(`{}`))
		if err == nil {
			defer resp.Body.Close()
			g.Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		}
		list := &droverv1.ClusterMaintenanceList{}
		g.Expect(cp.List(ctx, list, client.InNamespace(bed.Namespace))).To(Succeed())
		g.Expect(list.Items).To(HaveLen(1), "nothing was created over plain HTTP")
	})

	t.Run("the ExtensionConfig sample is valid against Cluster API's CRD", func(t *testing.T) {
		g := NewWithT(t)
		objs, err := harness.ReadYAMLFile(filepath.Join(root, "config", "runtime-extension", "extensionconfig.yaml"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(objs).To(HaveLen(1))
		g.Expect(objs[0].GetKind()).To(Equal("ExtensionConfig"))
		g.Expect(cp.Create(ctx, objs[0])).To(Succeed())
	})
}

// setPhase writes a status as the maintenance controller would.
func setPhase(g Gomega, c client.Client, m *droverv1.ClusterMaintenance, phase droverv1.MaintenancePhase, condType, msg string) {
	ctx := context.Background()
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(m), m)).To(Succeed())
	m.Status.Phase = phase
	if phase == droverv1.MaintenanceDraining || phase == droverv1.MaintenanceDrained {
		now := metav1.Now()
		m.Status.AdmittedTime = &now
	}
	m.Status.Conditions = []metav1.Condition{{Type: condType, Status: metav1.ConditionFalse, Reason: "Test", Message: msg, LastTransitionTime: metav1.Now()}}
	g.Expect(c.Status().Update(ctx, m)).To(Succeed())
}

func addFinalizer(ctx context.Context, c client.Client, m *droverv1.ClusterMaintenance) error {
	if err := c.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
		return err
	}
	m.Finalizers = append(m.Finalizers, droverv1.ClusterMaintenanceFinalizer)
	err := c.Update(ctx, m)
	if apierrors.IsConflict(err) {
		return addFinalizer(ctx, c, m)
	}
	return err
}
