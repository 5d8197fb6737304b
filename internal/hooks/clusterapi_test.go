package hooks_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	runtimecatalog "sigs.k8s.io/cluster-api/api/runtime/catalog"
	runtimehooksv1 "sigs.k8s.io/cluster-api/api/runtime/hooks/v1alpha1"
	runtimev1 "sigs.k8s.io/cluster-api/api/runtime/v1beta2"
	"sigs.k8s.io/cluster-api/core/reconcilers/extensionconfig"
	runtimeclient "sigs.k8s.io/cluster-api/exp/runtime/client"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/hookstest"
	"github.com/drover-dev/drover/internal/test/testbed"
	capiclient "github.com/drover-dev/drover/internal/test/third_party/capiruntime/client"
	"github.com/drover-dev/drover/internal/test/third_party/capiruntime/registry"
)

// clusterAPI is the part of Cluster API's core controller that calls Runtime
// Extensions, run in process against the test bed: its ExtensionConfig reconciler
// (public, sigs.k8s.io/cluster-api/core/reconcilers/extensionconfig), which injects the
// CA bundle from the annotated Secret, runs discovery and registers the handlers, and
// its Runtime SDK client (a copy of Cluster API's internal one, see
// internal/test/third_party/capiruntime), with which the topology controller calls the
// hooks.
type clusterAPI struct {
	runtimeclient.Client
	// k8s is a live client of the control plane that knows Cluster API's runtime types.
	k8s client.Client
}

// startClusterAPI starts the ExtensionConfig reconciler and returns the runtime client
// it registers extensions in.
// It calls the extensions with cert, as Cluster API's controllers started with
// --runtime-extension-client-cert-file and --runtime-extension-client-key-file do.
func startClusterAPI(ctx context.Context, t *testing.T, bed *testbed.Testbed, cert hookstest.ClientCert) *clusterAPI {
	t.Helper()
	g := NewWithT(t)
	scheme := setup.Scheme()
	g.Expect(runtimev1.AddToScheme(scheme)).To(Succeed())
	mgr, err := ctrl.NewManager(bed.ControlPlane.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	g.Expect(err).NotTo(HaveOccurred())
	secrets, err := ctrlcache.New(mgr.GetConfig(), ctrlcache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(),
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(mgr.Add(secrets)).To(Succeed())

	catalog := runtimecatalog.New()
	g.Expect(runtimehooksv1.AddToCatalog(catalog)).To(Succeed())
	rc, certWatcher, err := capiclient.New(ctx, capiclient.Options{
		CertFile: cert.CertFile, KeyFile: cert.KeyFile,
		Catalog: catalog, Registry: registry.New(), Client: mgr.GetClient(),
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(certWatcher).NotTo(BeNil())
	g.Expect(mgr.Add(certWatcher)).To(Succeed())
	g.Expect((&extensionconfig.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), RuntimeClient: rc, PartialSecretCache: secrets,
	}).SetupWithManager(ctx, mgr, controller.Options{SkipNameValidation: ptr.To(true)})).To(Succeed()) // go test -count=N runs it again in this process

	startManager(ctx, t, mgr, "Cluster API's manager")
	k8s, err := client.New(mgr.GetConfig(), client.Options{Scheme: scheme, Mapper: mgr.GetRESTMapper()})
	g.Expect(err).NotTo(HaveOccurred())
	return &clusterAPI{Client: rc, k8s: k8s}
}

// registerSample creates config/runtime-extension's ExtensionConfig as it is, but for
// its clientConfig: the extension is reached at url instead of through the Service.
// The Secret its inject-ca-from-secret annotation names is created with caPEM as
// ca.crt, as cert-manager writes it.
func registerSample(ctx context.Context, g Gomega, c client.Client, root, url string, caPEM []byte) *runtimev1.ExtensionConfig {
	objs, err := harness.ReadYAMLFile(filepath.Join(root, "config", "runtime-extension", "extensionconfig.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(objs).To(HaveLen(1))
	ec := &runtimev1.ExtensionConfig{}
	g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(objs[0].Object, ec)).To(Succeed())
	ec.Spec.ClientConfig = runtimev1.ClientConfig{URL: url}

	ns, name, ok := cutNamespacedName(ec.Annotations[runtimev1.InjectCAFromSecretAnnotation])
	g.Expect(ok).To(BeTrue(), "the sample names the CA Secret as <namespace>/<name>")
	g.Expect(client.IgnoreAlreadyExists(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))).To(Succeed())
	g.Expect(c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"ca.crt": caPEM, "tls.crt": {}, "tls.key": {}},
	})).To(Succeed())
	g.Expect(c.Create(ctx, ec)).To(Succeed())
	return ec
}

func cutNamespacedName(s string) (string, string, bool) {
	ns, name, ok := strings.Cut(s, "/")
	return ns, name, ok && ns != "" && name != ""
}

// waitForDiscovery waits until Cluster API has discovered the extension and returns it.
func (capi *clusterAPI) waitForDiscovery(ctx context.Context, g Gomega, name string) *runtimev1.ExtensionConfig {
	ec := &runtimev1.ExtensionConfig{}
	g.Eventually(func(g Gomega) {
		g.Expect(capi.k8s.Get(ctx, client.ObjectKey{Name: name}, ec)).To(Succeed())
		g.Expect(conditions.IsTrue(ec, runtimev1.ExtensionConfigDiscoveredCondition)).To(BeTrue(),
			"Discovered: %s", conditions.GetMessage(ec, runtimev1.ExtensionConfigDiscoveredCondition))
		g.Expect(capi.IsReady()).To(BeTrue(), "the registry is warmed up")
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	return ec
}
