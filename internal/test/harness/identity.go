package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-dev/drover/internal/test/testbed"
)

// identityFieldManager applies the RBAC objects of InstallIdentities.
const identityFieldManager = "drover-identities"

// Identities are who the manager acts as in a test bed set up by InstallIdentities.
type Identities struct {
	// Manager is the chart's ServiceAccount on the control plane, and
	// ManagerKubeconfig a kubeconfig of it to run the manager with.
	Manager           types.NamespacedName
	ManagerKubeconfig []byte
	// Workload is config/workload-rbac's ServiceAccount on every workload cluster; a
	// kubeconfig of it is in each cluster's <cluster>-kubeconfig Secret.
	Workload types.NamespacedName
}

// InstallIdentities gives the manager the permissions drover ships with, instead of
// the test bed's admin: it applies the chart's RBAC (ChartRBAC) in namespace of the
// control plane (creating the namespace) and returns a kubeconfig of its ServiceAccount
// with a token valid for ttl; it applies config/workload-rbac to every workload
// cluster and writes a kubeconfig of that ServiceAccount into the cluster's kubeconfig
// Secret, where the manager finds it. Call it before the manager starts: the manager
// reads a kubeconfig Secret when it connects to the cluster.
func InstallIdentities(ctx context.Context, root string, bed *testbed.Testbed, namespace string, ttl time.Duration) (*Identities, error) {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(namespace)
	objs, err := ChartRBAC(root, namespace)
	if err != nil {
		return nil, err
	}
	if err := Apply(ctx, bed.ControlPlane.Client, identityFieldManager, append([]*unstructured.Unstructured{ns}, objs...)...); err != nil {
		return nil, fmt.Errorf("installing the chart's RBAC: %w", err)
	}
	id := &Identities{}
	if id.Manager, err = ServiceAccountOf(objs); err != nil {
		return nil, err
	}
	if id.ManagerKubeconfig, err = bed.ControlPlane.ServiceAccountKubeconfig(ctx, id.Manager.Namespace, id.Manager.Name, ttl); err != nil {
		return nil, err
	}

	dir := filepath.Join(root, "config", "workload-rbac")
	if objs, err = ReadYAMLDir(dir); err != nil {
		return nil, err
	}
	if id.Workload, err = ServiceAccountOf(objs); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	for _, w := range bed.Workloads {
		if err := Apply(ctx, w.Client, identityFieldManager, objs...); err != nil {
			return nil, fmt.Errorf("installing config/workload-rbac in %s: %w", w.Name, err)
		}
		kubeconfig, err := w.ServiceAccountKubeconfig(ctx, id.Workload.Namespace, id.Workload.Name, ttl)
		if err != nil {
			return nil, err
		}
		if err := bed.SetKubeconfigSecret(ctx, w, kubeconfig); err != nil {
			return nil, err
		}
	}
	return id, nil
}
