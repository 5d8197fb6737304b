package testbed_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/cluster-api/util/secret"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/test/testbed"
)

// A ServiceAccount's kubeconfig authenticates as the ServiceAccount and may do only
// what RBAC grants it (here nothing: not even GET /, which Cluster API's cluster cache
// probes with, so config/workload-rbac grants it); SetKubeconfigSecret puts it where
// Cluster API keeps a cluster's kubeconfig.
func TestServiceAccountKubeconfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bed := testbed.StartForTest(ctx, t, testbed.Options{Logf: t.Logf, Workloads: []testbed.WorkloadOptions{{Name: "w-1"}}})
	w := bed.Workloads[0]
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: "probe"}}
	if err := w.Client.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := w.ServiceAccountKubeconfig(ctx, sa.Namespace, sa.Name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := review.Status.UserInfo.Username, "system:serviceaccount:default:probe"; got != want {
		t.Errorf("authenticated as %q; want %q", got, want)
	}
	if _, err := cs.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets: %v; want Forbidden", err)
	}
	if _, err := cs.RESTClient().Get().AbsPath("/").DoRaw(ctx); !apierrors.IsForbidden(err) {
		t.Errorf("GET /: %v; want Forbidden", err)
	}

	if err := bed.SetKubeconfigSecret(ctx, w, kubeconfig); err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{}
	if err := bed.ControlPlane.Client.Get(ctx, client.ObjectKey{Namespace: w.Cluster.Namespace, Name: secret.Name(w.Cluster.Name, secret.Kubeconfig)}, s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Data[secret.KubeconfigDataName], kubeconfig) {
		t.Error("the kubeconfig Secret does not hold the ServiceAccount's kubeconfig")
	}
	if bytes.Equal(w.Kubeconfig, kubeconfig) {
		t.Error("w.Kubeconfig changed; it stays the admin's")
	}
}
