package hooks_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	runtimecatalog "sigs.k8s.io/cluster-api/api/runtime/catalog"
	runtimehooksv1 "sigs.k8s.io/cluster-api/api/runtime/hooks/v1alpha1"
	runtimev1 "sigs.k8s.io/cluster-api/api/runtime/v1beta2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/hooks"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/hookstest"
	"github.com/drover-dev/drover/internal/test/testbed"
)

const (
	// clustersNamespace holds the Clusters whose upgrades wait for drover: it carries the
	// label the sample ExtensionConfig's namespaceSelector asks for. Clusters in
	// "default" do not.
	clustersNamespace = "clusters"
	retrySeconds      = 7
	retryAfter        = retrySeconds * time.Second
)

// TestRuntimeExtension runs drover's Runtime Extension on a manager replica that is not
// the leader, registers config/runtime-extension's ExtensionConfig (pointed at it by
// URL) with Cluster API's own ExtensionConfig reconciler, and calls the hooks with
// Cluster API's own Runtime SDK client, as Cluster API's topology controller does. The
// ClusterMaintenances live in a real API server; the test plays the maintenance
// controller by writing their status and finalizer.
func TestRuntimeExtension(t *testing.T) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	root, err := testbed.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	bed, err := testbed.Start(ctx, testbed.Options{
		Scheme:            setup.Scheme(),
		Namespace:         clustersNamespace,
		CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")},
		Logf:              t.Logf,
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = bed.Stop() })
	cp := bed.ControlPlane.Client
	ns := &corev1.Namespace{}
	g.Expect(cp.Get(ctx, client.ObjectKey{Name: clustersNamespace}, ns)).To(Succeed())
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels["drover.dev/upgrade-hooks"] = "enabled"
	g.Expect(cp.Update(ctx, ns)).To(Succeed())

	caPEM, certDir := hookstest.ServeCert(t)
	port := hookstest.FreePort(t)
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	probes := hookstest.FreePort(t)
	replica := startFollower(ctx, t, bed, probes, hooks.Options{Host: "127.0.0.1", Port: port, CertDir: certDir, RetryAfter: retryAfter})
	direct, err := hookstest.NewCaller(base, caPEM)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(direct.Ready, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Eventually(func() (int, error) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz/%s", probes, hooks.ReadyzCheck))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return resp.StatusCode, nil
	}, 10*time.Second, 100*time.Millisecond).Should(Equal(http.StatusOK), "the replica reports ready once it serves the hooks")

	capi := startClusterAPI(ctx, t, bed)
	sample := registerSample(ctx, g, capi.k8s, root, base, caPEM)

	t.Run("Cluster API discovers both hooks", func(t *testing.T) {
		g := NewWithT(t)
		ec := capi.waitForDiscovery(ctx, g, sample.Name)
		g.Expect(ec.Spec.ClientConfig.CABundle).To(Equal(caPEM), "the CA is injected from the annotated Secret")
		var got []string
		for _, h := range ec.Status.Handlers {
			got = append(got, h.RequestHook.Hook+" "+h.Name)
			g.Expect(h.RequestHook.APIVersion).To(Equal(runtimehooksv1.GroupVersion.String()))
			g.Expect(h.FailurePolicy).To(Equal(runtimev1.FailurePolicyFail))
		}
		g.Expect(got).To(ConsistOf(
			"BeforeClusterUpgrade drover-before-cluster-upgrade.drover",
			"AfterClusterUpgrade drover-after-cluster-upgrade.drover",
		))
		g.Expect(capi.GetAllExtensions(ctx, runtimehooksv1.BeforeClusterUpgrade, cluster(clustersNamespace, "any"))).
			To(ConsistOf("drover-before-cluster-upgrade.drover"))
		g.Expect(capi.GetAllExtensions(ctx, runtimehooksv1.AfterClusterUpgrade, cluster(clustersNamespace, "any"))).
			To(ConsistOf("drover-after-cluster-upgrade.drover"))
		g.Expect(capi.GetAllExtensions(ctx, runtimehooksv1.BeforeClusterUpgrade, cluster(metav1.NamespaceDefault, "any"))).
			To(BeEmpty(), "the namespaceSelector leaves out namespaces without the label")
	})
	capi.waitForDiscovery(ctx, g, sample.Name)

	t.Run("an upgrade waits for the drain, then proceeds, then re-admits", func(t *testing.T) {
		g := NewWithT(t)
		before := capi.beforeUpgrade(ctx, g, "workload-a")
		g.Expect(before.RetryAfterSeconds).To(BeEquivalentTo(retrySeconds), before.Message)
		g.Expect(before.Message).To(Equal(fmt.Sprintf(
			"waiting for drover to drain cluster %s/workload-a: ClusterMaintenance workload-a-upgrade is Pending: drover has not looked at it yet", clustersNamespace)))

		m := &droverv1.ClusterMaintenance{}
		g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: clustersNamespace, Name: "workload-a-upgrade"}, m)).To(Succeed())
		g.Expect(m.Spec).To(Equal(droverv1.ClusterMaintenanceSpec{ClusterName: "workload-a", Reason: "Cluster API upgrade to v1.36.3"}))
		g.Expect(m.Labels).To(HaveKeyWithValue(hooks.CreatedByLabel, hooks.CreatedBy))

		setStatus(ctx, g, cp, m, droverv1.MaintenanceDraining, "1 of 2 Prods drained; waiting for shop-workload-a (weight 0, DNS not yet in sync)")
		again := capi.beforeUpgrade(ctx, g, "workload-a")
		g.Expect(again.RetryAfterSeconds).To(BeEquivalentTo(retrySeconds))
		g.Expect(again.Message).To(HaveSuffix("ClusterMaintenance workload-a-upgrade is Draining: 1 of 2 Prods drained; waiting for shop-workload-a (weight 0, DNS not yet in sync)"))
		g.Expect(maintenancesOf(ctx, g, cp, "workload-a")).To(ConsistOf("workload-a-upgrade"), "called again, the hook makes no second one")

		setStatus(ctx, g, cp, m, droverv1.MaintenanceDrained, "all 2 Prods on cluster workload-a are out of traffic")
		proceed := capi.beforeUpgrade(ctx, g, "workload-a")
		g.Expect(proceed.RetryAfterSeconds).To(BeZero(), "a drained cluster may be upgraded: %s", proceed.Message)

		// After the upgrade: ours is deleted; while its finalizer holds it (the Prods are
		// not back in traffic yet), the hook keeps the upgrade from completing.
		g.Expect(addFinalizer(ctx, cp, m)).To(Succeed())
		after := capi.afterUpgrade(ctx, g, "workload-a")
		g.Expect(after.RetryAfterSeconds).To(BeEquivalentTo(retrySeconds))
		g.Expect(after.Message).To(ContainSubstring("waiting for ClusterMaintenance workload-a-upgrade to end"))
		g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(m), m)).To(Succeed())
		g.Expect(m.DeletionTimestamp.IsZero()).To(BeFalse(), "AfterClusterUpgrade deletes the maintenance it created")
		g.Expect(capi.afterUpgrade(ctx, g, "workload-a").RetryAfterSeconds).NotTo(BeZero(), "still held by the finalizer")

		m.Finalizers = nil
		g.Expect(cp.Update(ctx, m)).To(Succeed())
		done := capi.afterUpgrade(ctx, g, "workload-a")
		g.Expect(done.RetryAfterSeconds).To(BeZero())
		g.Expect(done.Message).To(Equal(fmt.Sprintf("cluster %s/workload-a is back in traffic", clustersNamespace)))
		g.Expect(maintenancesOf(ctx, g, cp, "workload-a")).To(BeEmpty())
	})

	t.Run("a maintenance someone created is used and left alone", func(t *testing.T) {
		g := NewWithT(t)
		mine := &droverv1.ClusterMaintenance{
			ObjectMeta: metav1.ObjectMeta{Namespace: clustersNamespace, Name: "platform-team-drain"},
			Spec:       droverv1.ClusterMaintenanceSpec{ClusterName: "workload-b", Surge: true},
		}
		g.Expect(cp.Create(ctx, mine)).To(Succeed())
		refusal := "the drain has not started: draining cluster workload-b would leave ProdSet shop with 1 serving Prod, below its minimum of 2"
		setStatus(ctx, g, cp, mine, droverv1.MaintenanceRefused, refusal)
		resp := capi.beforeUpgrade(ctx, g, "workload-b")
		g.Expect(resp.RetryAfterSeconds).To(BeEquivalentTo(retrySeconds), "a refused drain holds the upgrade")
		g.Expect(resp.Message).To(HaveSuffix("ClusterMaintenance platform-team-drain is Refused: " + refusal))
		g.Expect(maintenancesOf(ctx, g, cp, "workload-b")).To(ConsistOf("platform-team-drain"))

		g.Expect(capi.afterUpgrade(ctx, g, "workload-b").RetryAfterSeconds).To(BeZero())
		g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(mine), mine)).To(Succeed())
		g.Expect(mine.DeletionTimestamp.IsZero()).To(BeTrue(), "the platform team's maintenance is theirs to end")
	})

	t.Run("the usual name taken by another cluster's maintenance", func(t *testing.T) {
		g := NewWithT(t)
		other := &droverv1.ClusterMaintenance{
			ObjectMeta: metav1.ObjectMeta{Namespace: clustersNamespace, Name: "workload-c-upgrade"},
			Spec:       droverv1.ClusterMaintenanceSpec{ClusterName: "workload-d"},
		}
		g.Expect(cp.Create(ctx, other)).To(Succeed())
		resp := capi.beforeUpgrade(ctx, g, "workload-c")
		g.Expect(resp.Message).To(ContainSubstring("ClusterMaintenance workload-c-upgrade-1 is Pending"))
		g.Expect(maintenancesOf(ctx, g, cp, "workload-c")).To(ConsistOf("workload-c-upgrade-1"))
		g.Expect(capi.afterUpgrade(ctx, g, "workload-c").RetryAfterSeconds).To(BeZero())
		g.Expect(maintenancesOf(ctx, g, cp, "workload-c")).To(BeEmpty())
		g.Expect(maintenancesOf(ctx, g, cp, "workload-d")).To(ConsistOf("workload-c-upgrade"), "another cluster's maintenance is left alone")
	})

	t.Run("a maintenance a concurrent call just created is used", func(t *testing.T) {
		g := NewWithT(t)
		wc, err := client.NewWithWatch(bed.ControlPlane.Config, client.Options{Scheme: setup.Scheme()})
		g.Expect(err).NotTo(HaveOccurred())
		// Another replica, answering a retried call for the same cluster, creates the
		// maintenance between this call's list and its create.
		racing := interceptor.NewClient(wc, interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				if err := c.Create(ctx, obj.DeepCopyObject().(client.Object)); err != nil {
					return err
				}
				return c.Create(ctx, obj, opts...)
			},
		})
		h := &hooks.Handlers{Client: racing, RetryAfter: retryAfter}
		resp := &runtimehooksv1.BeforeClusterUpgradeResponse{}
		h.BeforeClusterUpgrade(ctx, &runtimehooksv1.BeforeClusterUpgradeRequest{Cluster: *cluster(clustersNamespace, "workload-f"), ToKubernetesVersion: "v1.36.3"}, resp)
		g.Expect(resp.Status).To(Equal(runtimehooksv1.ResponseStatusSuccess), resp.Message)
		g.Expect(resp.Message).To(ContainSubstring("ClusterMaintenance workload-f-upgrade is Pending"))
		g.Expect(maintenancesOf(ctx, g, cp, "workload-f")).To(ConsistOf("workload-f-upgrade"), "no second maintenance for the cluster")
	})

	t.Run("a failure to start the drain fails the hook", func(t *testing.T) {
		g := NewWithT(t)
		// A Cluster name may have dots; a ClusterMaintenance's spec.clusterName may not,
		// so the API server refuses the maintenance.
		c := cluster(clustersNamespace, "web.eu-1")
		err := capi.CallAllExtensions(ctx, runtimehooksv1.BeforeClusterUpgrade, c, &runtimehooksv1.BeforeClusterUpgradeRequest{
			Cluster: *c, FromKubernetesVersion: "v1.35.2", ToKubernetesVersion: "v1.36.3",
		}, &runtimehooksv1.BeforeClusterUpgradeResponse{})
		g.Expect(err).To(MatchError(And(
			ContainSubstring("got failure response"),
			ContainSubstring("drover could not start draining cluster clusters/web.eu-1"),
			ContainSubstring("spec.clusterName"),
		)))
	})

	t.Run("TLS is required", func(t *testing.T) {
		g := NewWithT(t)
		count := len(maintenancesOf(ctx, g, cp, "workload-e"))
		gvh, err := hookstest.Catalog().GroupVersionHook(runtimehooksv1.BeforeClusterUpgrade)
		g.Expect(err).NotTo(HaveOccurred())
		body := fmt.Sprintf(`{"apiVersion":"hooks.runtime.cluster.x-k8s.io/v1alpha1","kind":"BeforeClusterUpgradeRequest","cluster":{"metadata":{"namespace":%q,"name":"workload-e"}}}`, clustersNamespace)
		path := runtimecatalog.GVHToPath(gvh, hooks.BeforeClusterUpgradeHandler)

		resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d%s", port, path), "application/json", strings.NewReader(body))
		if err == nil {
			defer resp.Body.Close()
			g.Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), "plain HTTP is refused")
		}
		untrusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
		resp, err = untrusting.Post(base+path, "application/json", strings.NewReader(body))
		if err == nil {
			_ = resp.Body.Close()
		}
		g.Expect(err).To(MatchError(ContainSubstring("certificate")), "a client that does not trust the CA does not get through")
		g.Expect(maintenancesOf(ctx, g, cp, "workload-e")).To(HaveLen(count), "nothing was created")
	})

	t.Run("the ExtensionConfig as shipped is valid against Cluster API's CRD", func(t *testing.T) {
		g := NewWithT(t)
		objs, err := harness.ReadYAMLFile(filepath.Join(root, "config", "runtime-extension", "extensionconfig.yaml"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(objs).To(HaveLen(1))
		objs[0].SetName("drover-as-shipped") // the one named drover is registered above
		g.Expect(cp.Create(ctx, objs[0], client.DryRunAll)).To(Succeed())
	})

	select {
	case <-replica.Elected():
		t.Error("the replica serving the hooks was meant not to be the leader")
	default:
	}
}

// startFollower runs a manager with drover's Runtime Extension set up by
// SetupWithManager and leader election on, while another replica holds the lease: the
// hooks must be served all the same. Its health probes listen on probePort.
func startFollower(ctx context.Context, t *testing.T, bed *testbed.Testbed, probePort int, opts hooks.Options) ctrl.Manager {
	t.Helper()
	g := NewWithT(t)
	const leaseName = "drover-hooks-test"
	now := metav1.NewMicroTime(time.Now())
	g.Expect(bed.ControlPlane.Client.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: leaseName},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To("another-replica"), LeaseDurationSeconds: ptr.To[int32](3600),
			AcquireTime: &now, RenewTime: &now,
		},
	})).To(Succeed())
	mgr, err := ctrl.NewManager(bed.ControlPlane.Config, ctrl.Options{
		Scheme:                  setup.Scheme(),
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  fmt.Sprintf("127.0.0.1:%d", probePort),
		LeaderElection:          true,
		LeaderElectionID:        leaseName,
		LeaderElectionNamespace: bed.Namespace,
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(hooks.SetupWithManager(mgr, opts)).To(Succeed())
	startManager(ctx, t, mgr, "drover's manager")
	return mgr
}

// startManager runs mgr until the test ends.
func startManager(ctx context.Context, t *testing.T, mgr ctrl.Manager, name string) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Log(name+":", err)
		}
	})
}

func cluster(namespace, name string) *clusterv1.Cluster {
	return &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
}

// beforeUpgrade calls BeforeClusterUpgrade as Cluster API's topology controller does
// when a Cluster's spec.topology.version changes.
func (capi *clusterAPI) beforeUpgrade(ctx context.Context, g Gomega, name string) *runtimehooksv1.BeforeClusterUpgradeResponse {
	c := cluster(clustersNamespace, name)
	resp := &runtimehooksv1.BeforeClusterUpgradeResponse{}
	g.Expect(capi.CallAllExtensions(ctx, runtimehooksv1.BeforeClusterUpgrade, c, &runtimehooksv1.BeforeClusterUpgradeRequest{
		Cluster: *c, FromKubernetesVersion: "v1.35.2", ToKubernetesVersion: "v1.36.3",
	}, resp)).To(Succeed())
	g.Expect(resp.Status).To(Equal(runtimehooksv1.ResponseStatusSuccess))
	return resp
}

// afterUpgrade calls AfterClusterUpgrade as Cluster API does once the whole cluster runs
// the new version.
func (capi *clusterAPI) afterUpgrade(ctx context.Context, g Gomega, name string) *runtimehooksv1.AfterClusterUpgradeResponse {
	c := cluster(clustersNamespace, name)
	resp := &runtimehooksv1.AfterClusterUpgradeResponse{}
	g.Expect(capi.CallAllExtensions(ctx, runtimehooksv1.AfterClusterUpgrade, c, &runtimehooksv1.AfterClusterUpgradeRequest{
		Cluster: *c, KubernetesVersion: "v1.36.3",
	}, resp)).To(Succeed())
	g.Expect(resp.Status).To(Equal(runtimehooksv1.ResponseStatusSuccess))
	return resp
}

// maintenancesOf names the ClusterMaintenances of a cluster that are not going away.
func maintenancesOf(ctx context.Context, g Gomega, c client.Client, clusterName string) []string {
	list := &droverv1.ClusterMaintenanceList{}
	g.Expect(c.List(ctx, list, client.InNamespace(clustersNamespace))).To(Succeed())
	var names []string
	for _, m := range list.Items {
		if m.Spec.ClusterName == clusterName && m.DeletionTimestamp.IsZero() {
			names = append(names, m.Name)
		}
	}
	return names
}

// setStatus writes a status as the maintenance controller does: the phase, and the
// Drained condition's message saying what the drain waits for.
func setStatus(ctx context.Context, g Gomega, c client.Client, m *droverv1.ClusterMaintenance, phase droverv1.MaintenancePhase, drainedMessage string) {
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(m), m)).To(Succeed())
	m.Status.Phase = phase
	admitted := metav1.ConditionFalse
	if phase == droverv1.MaintenanceDraining || phase == droverv1.MaintenanceDrained {
		now := metav1.Now()
		m.Status.AdmittedTime = &now
		admitted = metav1.ConditionTrue
	}
	drained := metav1.ConditionFalse
	if phase == droverv1.MaintenanceDrained {
		drained = metav1.ConditionTrue
	}
	m.Status.Conditions = []metav1.Condition{
		{Type: droverv1.MaintenanceAdmittedCondition, Status: admitted, Reason: "Test", Message: "admission: " + string(phase), LastTransitionTime: metav1.Now()},
		{Type: droverv1.MaintenanceDrainedCondition, Status: drained, Reason: "Test", Message: drainedMessage, LastTransitionTime: metav1.Now()},
	}
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
