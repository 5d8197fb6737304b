package hooks_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
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
	// Cluster API's client certificate (--runtime-extension-client-cert-file), signed by
	// the CA the extension is given.
	clientCA := hookstest.NewClientCA(t, "cluster-api client CA")
	capiCert := clientCA.Issue(t, capiClientName)
	port := hookstest.FreePort(t)
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	probes := hookstest.FreePort(t)
	replica := startFollower(ctx, t, bed, probes, hooks.Options{
		Host: "127.0.0.1", Port: port, CertDir: certDir, RetryAfter: retryAfter,
		ClientCAFile: clientCA.File, ClientNames: []string{capiClientName},
		NamespaceSelector: sampleNamespaceSelector(g, root),
	})
	direct, err := hookstest.NewCaller(base, caPEM, capiCert.Certificate)
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

	capi := startClusterAPI(ctx, t, bed, capiCert)
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
		upgrading(ctx, g, cp, clustersNamespace, "workload-a")
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

		// Called before the control plane runs the new version, the hook keeps the drain.
		early := capi.afterUpgrade(ctx, g, "workload-a")
		g.Expect(early.RetryAfterSeconds).To(BeEquivalentTo(retrySeconds))
		g.Expect(early.Message).To(Equal(fmt.Sprintf("drover keeps cluster %s/workload-a drained: its control plane runs v1.35.2, not yet v1.36.3", clustersNamespace)))
		g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(m), m)).To(Succeed())
		g.Expect(m.DeletionTimestamp.IsZero()).To(BeTrue(), "the maintenance stays while the control plane is not upgraded")

		// After the upgrade: ours is deleted; while its finalizer holds it (the Prods are
		// not back in traffic yet), the hook keeps the upgrade from completing.
		setControlPlaneVersion(ctx, g, cp, clustersNamespace, "workload-a", "v1.36.3")
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
		upgrading(ctx, g, cp, clustersNamespace, "workload-b")
		refusal := "the drain has not started: draining cluster workload-b would leave ProdSet shop with 1 serving Prod, below its minimum of 2"
		setStatus(ctx, g, cp, mine, droverv1.MaintenanceRefused, refusal)
		resp := capi.beforeUpgrade(ctx, g, "workload-b")
		g.Expect(resp.RetryAfterSeconds).To(BeEquivalentTo(retrySeconds), "a refused drain holds the upgrade")
		g.Expect(resp.Message).To(HaveSuffix("ClusterMaintenance platform-team-drain is Refused: " + refusal))
		g.Expect(maintenancesOf(ctx, g, cp, "workload-b")).To(ConsistOf("platform-team-drain"))

		setControlPlaneVersion(ctx, g, cp, clustersNamespace, "workload-b", "v1.36.3")
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
		upgrading(ctx, g, cp, clustersNamespace, "workload-c")
		resp := capi.beforeUpgrade(ctx, g, "workload-c")
		g.Expect(resp.Message).To(ContainSubstring("ClusterMaintenance workload-c-upgrade-1 is Pending"))
		g.Expect(maintenancesOf(ctx, g, cp, "workload-c")).To(ConsistOf("workload-c-upgrade-1"))
		setControlPlaneVersion(ctx, g, cp, clustersNamespace, "workload-c", "v1.36.3")
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
		upgrading(ctx, g, cp, clustersNamespace, "workload-f")
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
		upgrading(ctx, g, cp, clustersNamespace, "web.eu-1")
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
		upgrading(ctx, g, cp, clustersNamespace, "workload-e") // a call that got through would drain it
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

	t.Run("only Cluster API's client certificate gets through", func(t *testing.T) {
		g := NewWithT(t)
		// workload-e is being upgraded (see above): a call that got through would drain it.
		otherCA := hookstest.NewClientCA(t, "another CA")
		for name, certs := range map[string][]tls.Certificate{
			"no client certificate":                            nil,
			"a certificate of another CA, with the right name": {otherCA.Issue(t, capiClientName).Certificate},
			"a certificate of the right CA for another name":   {clientCA.Issue(t, "someone-else").Certificate},
		} {
			caller, err := hookstest.NewCaller(base, caPEM, certs...)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(postBeforeUpgrade(caller, clustersNamespace, "workload-e")).To(MatchError(ContainSubstring("remote error: tls:")), name)
			g.Expect(maintenancesOf(ctx, g, cp, "workload-e")).To(BeEmpty(), "%s: nothing was drained", name)
		}
		// The same call with Cluster API's certificate drains it.
		g.Expect(postBeforeUpgrade(direct, clustersNamespace, "workload-e")).To(Succeed())
		g.Expect(maintenancesOf(ctx, g, cp, "workload-e")).To(ConsistOf("workload-e-upgrade"))
	})

	t.Run("a forged BeforeClusterUpgrade drains nothing", func(t *testing.T) {
		g := NewWithT(t)
		// workload-g runs the version its topology asks for: it is not being upgraded.
		upgrading(ctx, g, cp, clustersNamespace, "workload-g")
		setControlPlaneVersion(ctx, g, cp, clustersNamespace, "workload-g", "v1.36.3")
		// workload-h is being upgraded to v1.36.3.
		h := upgrading(ctx, g, cp, clustersNamespace, "workload-h")
		// workload-i is not managed by a ClusterClass, yet says it runs v1.35.2.
		unmanaged := cluster(clustersNamespace, "workload-i")
		unmanaged.Spec.Paused = ptr.To(false)
		g.Expect(cp.Create(ctx, unmanaged)).To(Succeed())
		setControlPlaneVersion(ctx, g, cp, clustersNamespace, "workload-i", "v1.35.2")
		for _, tc := range []struct {
			name, to string
			uid      types.UID
			want     string
		}{
			{"workload-g", "v1.36.3", "", "cluster clusters/workload-g is not being upgraded: its control plane runs v1.36.3, its spec.topology.version"},
			{"workload-h", "v1.37.0", h.UID, `the request is about an upgrade to "v1.37.0"; cluster clusters/workload-h has spec.topology.version "v1.36.3"`},
			{"workload-h", "v1.36.3", "0b1e5d1c-forged", "the request is about Cluster clusters/workload-h with UID 0b1e5d1c-forged; the Cluster of that name has UID " + string(h.UID)},
			{"workload-i", "v1.36.3", "", "cluster clusters/workload-i has no spec.topology"},
			{"ghost", "v1.36.3", "", "there is no Cluster clusters/ghost"},
		} {
			c := cluster(clustersNamespace, tc.name)
			c.UID = tc.uid
			err := capi.CallAllExtensions(ctx, runtimehooksv1.BeforeClusterUpgrade, c, &runtimehooksv1.BeforeClusterUpgradeRequest{
				Cluster: *c, FromKubernetesVersion: "v1.35.2", ToKubernetesVersion: tc.to,
			}, &runtimehooksv1.BeforeClusterUpgradeResponse{})
			g.Expect(err).To(MatchError(And(
				ContainSubstring("got failure response"),
				ContainSubstring("drover refuses to drain cluster clusters/"+tc.name+": "+tc.want),
			)), "%s to %s", tc.name, tc.to)
			g.Expect(maintenancesOf(ctx, g, cp, tc.name)).To(BeEmpty(), "%s: nothing was drained", tc.name)
		}
	})

	t.Run("a forged AfterClusterUpgrade ends no drain", func(t *testing.T) {
		g := NewWithT(t)
		upgrading(ctx, g, cp, clustersNamespace, "workload-j")
		g.Expect(capi.beforeUpgrade(ctx, g, "workload-j").RetryAfterSeconds).NotTo(BeZero())
		g.Expect(maintenancesOf(ctx, g, cp, "workload-j")).To(ConsistOf("workload-j-upgrade"))

		// In the middle of the upgrade: the control plane still runs v1.35.2.
		after := capi.afterUpgrade(ctx, g, "workload-j")
		g.Expect(after.RetryAfterSeconds).To(BeEquivalentTo(retrySeconds))
		g.Expect(after.Message).To(Equal(fmt.Sprintf("drover keeps cluster %s/workload-j drained: its control plane runs v1.35.2, not yet v1.36.3", clustersNamespace)))
		// Naming a version the Cluster is not being upgraded to.
		c := cluster(clustersNamespace, "workload-j")
		err := capi.CallAllExtensions(ctx, runtimehooksv1.AfterClusterUpgrade, c, &runtimehooksv1.AfterClusterUpgradeRequest{
			Cluster: *c, KubernetesVersion: "v1.35.2",
		}, &runtimehooksv1.AfterClusterUpgradeResponse{})
		g.Expect(err).To(MatchError(ContainSubstring(`drover refuses to end the drain of cluster clusters/workload-j: the request is about an upgrade to "v1.35.2"`)))
		g.Expect(maintenancesOf(ctx, g, cp, "workload-j")).To(ConsistOf("workload-j-upgrade"), "the drain goes on")
	})

	t.Run("a Cluster in a namespace the selector leaves out is refused", func(t *testing.T) {
		g := NewWithT(t)
		// Cluster API does not call the hooks for it (see above); a caller with its
		// certificate that does is refused all the same.
		const ns, name = metav1.NamespaceDefault, "workload-k"
		upgrading(ctx, g, cp, ns, name)
		before := &runtimehooksv1.BeforeClusterUpgradeResponse{}
		direct.Call(g, runtimehooksv1.BeforeClusterUpgrade, hooks.BeforeClusterUpgradeHandler, &runtimehooksv1.BeforeClusterUpgradeRequest{
			Cluster: *cluster(ns, name), FromKubernetesVersion: "v1.35.2", ToKubernetesVersion: "v1.36.3",
		}, before)
		g.Expect(before.Status).To(Equal(runtimehooksv1.ResponseStatusFailure))
		g.Expect(before.Message).To(Equal("drover refuses to drain cluster default/workload-k: namespace default is not selected by the Runtime Extension's namespaceSelector (drover.dev/upgrade-hooks=enabled)"))
		g.Expect(maintenancesIn(ctx, g, cp, ns, name)).To(BeEmpty(), "nothing was drained")

		// A maintenance the hooks made there (before the namespace lost its label) is not
		// ended by a call either.
		m := &droverv1.ClusterMaintenance{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-upgrade", Labels: map[string]string{hooks.CreatedByLabel: hooks.CreatedBy}},
			Spec:       droverv1.ClusterMaintenanceSpec{ClusterName: name},
		}
		g.Expect(cp.Create(ctx, m)).To(Succeed())
		setControlPlaneVersion(ctx, g, cp, ns, name, "v1.36.3")
		after := &runtimehooksv1.AfterClusterUpgradeResponse{}
		direct.Call(g, runtimehooksv1.AfterClusterUpgrade, hooks.AfterClusterUpgradeHandler, &runtimehooksv1.AfterClusterUpgradeRequest{
			Cluster: *cluster(ns, name), KubernetesVersion: "v1.36.3",
		}, after)
		g.Expect(after.Status).To(Equal(runtimehooksv1.ResponseStatusFailure))
		g.Expect(after.Message).To(HavePrefix("drover refuses to end the drain of cluster default/workload-k: namespace default is not selected"))
		g.Expect(maintenancesIn(ctx, g, cp, ns, name)).To(ConsistOf(m.Name))
	})

	t.Run("the ExtensionConfig as shipped is valid against Cluster API's CRD", func(t *testing.T) {
		g := NewWithT(t)
		objs, err := harness.ReadYAMLFile(filepath.Join(root, "config", "runtime-extension", "extensionconfig.yaml"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(objs).To(HaveLen(1))
		objs[0].SetName("drover-as-shipped") // the one named drover is registered above
		g.Expect(cp.Create(ctx, objs[0], client.DryRunAll)).To(Succeed())
	})

	t.Run("the client CA is read again when its file changes", func(t *testing.T) {
		g := NewWithT(t)
		renewed := hookstest.NewClientCA(t, "renewed cluster-api client CA")
		g.Expect(os.WriteFile(clientCA.File, renewed.PEM, 0o600)).To(Succeed())
		t.Cleanup(func() { _ = os.WriteFile(clientCA.File, clientCA.PEM, 0o600) })
		old, err := hookstest.NewCaller(base, caPEM, capiCert.Certificate) // a new connection
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(postBeforeUpgrade(old, clustersNamespace, "workload-j")).To(MatchError(ContainSubstring("remote error: tls:")),
			"a certificate of the CA that was replaced")
		now, err := hookstest.NewCaller(base, caPEM, renewed.Issue(t, capiClientName).Certificate)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(postBeforeUpgrade(now, clustersNamespace, "workload-j")).To(Succeed())
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

// capiClientName is the Common Name of Cluster API's client certificate, the one the
// extension lets through.
const capiClientName = "capi-controller-manager"

// sampleNamespaceSelector is the namespaceSelector of config/runtime-extension's
// ExtensionConfig: the handlers are given the one Cluster API filters with.
func sampleNamespaceSelector(g Gomega, root string) *metav1.LabelSelector {
	objs, err := harness.ReadYAMLFile(filepath.Join(root, "config", "runtime-extension", "extensionconfig.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(objs).To(HaveLen(1))
	ec := &runtimev1.ExtensionConfig{}
	g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(objs[0].Object, ec)).To(Succeed())
	g.Expect(ec.Spec.NamespaceSelector).NotTo(BeNil())
	return ec.Spec.NamespaceSelector
}

// upgrading creates a Cluster that is being upgraded as Cluster API's topology
// controller sees it before it calls BeforeClusterUpgrade: its spec.topology.version is
// v1.36.3 and its control plane runs v1.35.2.
func upgrading(ctx context.Context, g Gomega, c client.Client, namespace, name string) *clusterv1.Cluster {
	cl := cluster(namespace, name)
	cl.Spec.Topology = clusterv1.Topology{ClassRef: clusterv1.ClusterClassRef{Name: "quick-start"}, Version: "v1.36.3"}
	g.Expect(c.Create(ctx, cl)).To(Succeed())
	setControlPlaneVersion(ctx, g, c, namespace, name, "v1.35.2")
	return cl
}

// setControlPlaneVersion writes the Cluster's status.controlPlane.versions as Cluster
// API does from its control plane's: all its three machines run version.
func setControlPlaneVersion(ctx context.Context, g Gomega, c client.Client, namespace, name, version string) {
	cl := &clusterv1.Cluster{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cl)).To(Succeed())
	cl.Status.ControlPlane = &clusterv1.ClusterControlPlaneStatus{Versions: []clusterv1.StatusVersion{{Version: version, Replicas: 3}}}
	g.Expect(c.Status().Update(ctx, cl)).To(Succeed())
}

// postBeforeUpgrade POSTs a BeforeClusterUpgrade request for a Cluster being upgraded
// with caller's HTTP client, and fails unless the answer is a 200 with status Success.
func postBeforeUpgrade(caller *hookstest.Caller, namespace, name string) error {
	gvh, err := hookstest.Catalog().GroupVersionHook(runtimehooksv1.BeforeClusterUpgrade)
	if err != nil {
		return err
	}
	body := fmt.Sprintf(`{"apiVersion":"hooks.runtime.cluster.x-k8s.io/v1alpha1","kind":"BeforeClusterUpgradeRequest","cluster":{"metadata":{"namespace":%q,"name":%q}},"fromKubernetesVersion":"v1.35.2","toKubernetesVersion":"v1.36.3"}`, namespace, name)
	resp, err := caller.HTTP.Post(caller.Base+runtimecatalog.GVHToPath(gvh, hooks.BeforeClusterUpgradeHandler), "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out := &runtimehooksv1.BeforeClusterUpgradeResponse{}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || out.Status != runtimehooksv1.ResponseStatusSuccess {
		return fmt.Errorf("status %d, %s: %s", resp.StatusCode, out.Status, out.Message)
	}
	return nil
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
	return maintenancesIn(ctx, g, c, clustersNamespace, clusterName)
}

// maintenancesIn is maintenancesOf for a cluster in another namespace.
func maintenancesIn(ctx context.Context, g Gomega, c client.Client, namespace, clusterName string) []string {
	list := &droverv1.ClusterMaintenanceList{}
	g.Expect(c.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
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
