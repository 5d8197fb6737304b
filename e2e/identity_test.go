package e2e

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/cluster-api/util/secret"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/harness"
)

// The manager runs with the permissions drover ships with, not the test bed's admin:
// on the control plane as the Helm chart's ServiceAccount, bound to the chart's
// ClusterRole and leader election Role (config/rbac's rules), and on every workload
// cluster as the ServiceAccount of config/workload-rbac, whose kubeconfig is in the
// Cluster's <cluster>-kubeconfig Secret where Cluster API keeps it. A rule missing from
// either fails the suite where drover needs it.

// identityTokenTTL outlives the suite (make test's timeout is 45 minutes).
const identityTokenTTL = 6 * time.Hour

var (
	// managerKubeconfigPath is the kubeconfig the manager runs with: a token of the
	// chart's ServiceAccount. kubeconfigPath stays the admin's, for kubectl and the
	// plugin.
	managerKubeconfigPath string
	// identities are the manager's ServiceAccounts on the control plane and on the
	// workload clusters.
	identities *harness.Identities
	// metricsScraper scrapes the replicas' metrics as Prometheus does: over HTTPS, with
	// the token of a ServiceAccount the chart's metrics-reader ClusterRole is bound to.
	metricsScraper *harness.MetricsScraper
)

// installIdentities installs the chart's RBAC and config/workload-rbac
// (harness.InstallIdentities) and writes the manager's kubeconfig, before the manager
// first connects.
func installIdentities(ctx context.Context) {
	var err error
	identities, err = harness.InstallIdentities(ctx, root, bed, managerNamespace, identityTokenTTL)
	Expect(err).NotTo(HaveOccurred())
	managerKubeconfigPath = filepath.Join(workDir, "manager.kubeconfig")
	Expect(os.WriteFile(managerKubeconfigPath, identities.ManagerKubeconfig, 0o600)).To(Succeed())
	metricsScraper, err = harness.InstallMetricsReader(ctx, root, bed.ControlPlane.Client, bed.ControlPlane.Config, "monitoring", "prometheus", identityTokenTTL)
	Expect(err).NotTo(HaveOccurred())
}

// serviceAccountUser is the user name a ServiceAccount authenticates as.
func serviceAccountUser(sa types.NamespacedName) string {
	return "system:serviceaccount:" + sa.Namespace + ":" + sa.Name
}

// clientOf is a client acting as the user of kubeconfig.
func clientOf(kubeconfig []byte) client.Client {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: setup.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// expectIdentity checks that c authenticates as user, not as an administrator, that
// it may not do what denied lists (asked with SelfSubjectAccessReviews, so that nothing
// changes should it be allowed), and that a real request listing forbidden in namespace
// is refused.
func expectIdentity(ctx context.Context, c client.Client, what, user string, denied []authorizationv1.ResourceAttributes, forbidden client.ObjectList, namespace string) {
	review := &authenticationv1.SelfSubjectReview{}
	Expect(c.Create(ctx, review)).To(Succeed(), "%s: SelfSubjectReview", what)
	Expect(review.Status.UserInfo.Username).To(Equal(user), "%s authenticates as someone else", what)
	Expect(review.Status.UserInfo.Groups).NotTo(ContainElement("system:masters"), "%s is an administrator", what)
	for _, attrs := range denied {
		ssar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}}
		Expect(c.Create(ctx, ssar)).To(Succeed())
		Expect(ssar.Status.Allowed).To(BeFalse(), "%s may %s %s.%s in %q", what, attrs.Verb, attrs.Resource, attrs.Group, attrs.Namespace)
	}
	err := c.List(ctx, forbidden, client.InNamespace(namespace))
	Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%s listing %T in %s: want Forbidden, got %v", what, forbidden, namespace, err)
}

// expectAllowed checks, with SelfSubjectAccessReviews, that c may do what allowed lists.
func expectAllowed(ctx context.Context, c client.Client, what string, allowed []authorizationv1.ResourceAttributes) {
	for _, attrs := range allowed {
		ssar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}}
		Expect(c.Create(ctx, ssar)).To(Succeed())
		Expect(ssar.Status.Allowed).To(BeTrue(), "%s may not %s %s.%s in %q", what, attrs.Verb, attrs.Resource, attrs.Group, attrs.Namespace)
	}
}

var _ = Describe("drover's identities", func() {
	It("the manager acts on the control plane as the chart's ServiceAccount, with no right the chart does not give: it reads the tenancy, gets Secrets by name only, writes neither", func(ctx SpecContext) {
		Expect(manager.CommandLine()).To(ContainSubstring("--kubeconfig="+managerKubeconfigPath), "the manager does not run with the ServiceAccount's kubeconfig")
		kubeconfig, err := os.ReadFile(managerKubeconfigPath)
		Expect(err).NotTo(HaveOccurred())
		expectIdentity(ctx, clientOf(kubeconfig), "the manager", serviceAccountUser(identities.Manager), []authorizationv1.ResourceAttributes{
			{Verb: "create", Resource: "secrets", Namespace: managerNamespace},
			{Verb: "delete", Group: "cluster.x-k8s.io", Resource: "clusters", Namespace: bed.Namespace},
			{Verb: "update", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
			{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
			// Secrets: get only, by name; never listed or watched.
			{Verb: "list", Resource: "secrets", Namespace: bed.Namespace},
			{Verb: "watch", Resource: "secrets", Namespace: bed.Namespace},
			// Tenancy is the platform team's to write: the manager only reads it.
			{Verb: "update", Resource: "namespaces"},
			{Verb: "patch", Resource: "namespaces"},
			{Verb: "create", Group: "drover.dev", Resource: "tenants"},
			{Verb: "update", Group: "drover.dev", Resource: "tenants"},
			{Verb: "delete", Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicies"},
			{Verb: "update", Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicybindings"},
		}, &corev1.ConfigMapList{}, "default")
		expectAllowed(ctx, clientOf(kubeconfig), "the manager", []authorizationv1.ResourceAttributes{
			{Verb: "get", Resource: "secrets", Namespace: bed.Namespace},
			{Verb: "get", Resource: "namespaces"}, {Verb: "list", Resource: "namespaces"}, {Verb: "watch", Resource: "namespaces"},
			{Verb: "get", Group: "drover.dev", Resource: "tenants"}, {Verb: "list", Group: "drover.dev", Resource: "tenants"},
			{Verb: "watch", Group: "drover.dev", Resource: "tenants"},
		})
	}, SpecTimeout(time.Minute))

	It("every workload cluster's kubeconfig Secret carries config/workload-rbac's ServiceAccount, not an administrator", func(ctx SpecContext) {
		for _, w := range bed.Workloads {
			s := &corev1.Secret{}
			key := client.ObjectKey{Namespace: w.Cluster.Namespace, Name: secret.Name(w.Cluster.Name, secret.Kubeconfig)}
			Expect(cp.Get(ctx, key, s)).To(Succeed())
			expectIdentity(ctx, clientOf(s.Data[secret.KubeconfigDataName]), "the kubeconfig of "+w.Name, serviceAccountUser(identities.Workload), []authorizationv1.ResourceAttributes{
				{Verb: "get", Resource: "secrets", Namespace: "kube-system"},
				{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
				{Verb: "delete", Resource: "nodes"},
				{Verb: "create", Resource: "pods", Namespace: "default"},
			}, &corev1.SecretList{}, "kube-system")
		}
	}, SpecTimeout(time.Minute))
})
