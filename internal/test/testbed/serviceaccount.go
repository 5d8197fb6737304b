package testbed

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/cluster-api/util/secret"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServiceAccountKubeconfig returns a kubeconfig for this API that authenticates as the
// ServiceAccount namespace/name with a token the TokenRequest API issues (as `kubectl
// create token` does), valid for ttl. The ServiceAccount must exist; what the
// kubeconfig may do is what RBAC grants the ServiceAccount, nothing more. The token
// stays valid across a restart of the kube-apiserver (same signing key).
func (e *Env) ServiceAccountKubeconfig(ctx context.Context, namespace, name string, ttl time.Duration) ([]byte, error) {
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return nil, err
	}
	seconds := int64(ttl / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("requesting a token for ServiceAccount %s/%s on %s: %w", namespace, name, e.Name, err)
	}
	user := "system:serviceaccount:" + namespace + ":" + name
	contextName := name + "@" + e.Name
	return clientcmd.Write(clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{
			e.Name: {Server: e.URL(), CertificateAuthorityData: e.Config.CAData},
		},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{
			user: {Token: tr.Status.Token},
		},
		Contexts: map[string]*clientcmdapi.Context{
			contextName: {Cluster: e.Name, AuthInfo: user},
		},
		CurrentContext: contextName,
	})
}

// SetKubeconfigSecret replaces the value of the workload's <name>-kubeconfig Secret in
// the control plane by kubeconfig, as a platform team does for a cluster whose
// kubeconfig Secret it writes itself: whoever connects through Cluster API's cluster
// cache (drover) then acts as that kubeconfig's user. w.Kubeconfig and w.Client stay
// the admin's.
func (t *Testbed) SetKubeconfigSecret(ctx context.Context, w *Workload, kubeconfig []byte) error {
	s := &corev1.Secret{}
	key := client.ObjectKey{Namespace: w.Cluster.Namespace, Name: secret.Name(w.Cluster.Name, secret.Kubeconfig)}
	if err := t.ControlPlane.Client.Get(ctx, key, s); err != nil {
		return fmt.Errorf("reading the kubeconfig Secret of %s: %w", w.Name, err)
	}
	orig := s.DeepCopy()
	s.Data[secret.KubeconfigDataName] = kubeconfig
	if err := t.ControlPlane.Client.Patch(ctx, s, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("writing the kubeconfig Secret of %s: %w", w.Name, err)
	}
	return nil
}
