package harness

import (
	"fmt"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-dev/drover/internal/packaging"
)

// ChartRelease is the release name ChartRBAC renders the chart as.
const ChartRelease = "drover"

// rbacKinds are the kinds of the chart's objects that ChartRBAC returns.
var rbacKinds = map[string]bool{
	"ServiceAccount": true, "ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
}

// ChartRBAC renders the Helm chart of the drover repository at root (charts/drover)
// with its default values, as `helm install drover charts/drover -n namespace` would,
// and returns its RBAC: the manager's ServiceAccount, ClusterRole, leader election Role
// and their bindings, and the metrics-reader ClusterRole (bound to nobody; see
// InstallMetricsReader), ready to Apply. Running the manager with a kubeconfig of that
// ServiceAccount (see ServiceAccountOf) runs it with exactly the permissions drover
// ships with, so that a rule missing from config/rbac fails where it is used.
func ChartRBAC(root, namespace string) ([]*unstructured.Unstructured, error) {
	objs, err := chartObjects(root, namespace, nil, rbacKinds)
	if err != nil {
		return nil, err
	}
	if _, err := ServiceAccountOf(objs); err != nil {
		return nil, fmt.Errorf("charts/drover: %w", err)
	}
	return objs, nil
}

// chartObjects renders charts/drover as release ChartRelease in namespace with values
// over its defaults and returns the objects whose kind is in kinds, in the rendered
// order.
func chartObjects(root, namespace string, values map[string]any, kinds map[string]bool) ([]*unstructured.Unstructured, error) {
	docs, err := packaging.RenderChart(filepath.Join(root, "charts", "drover"), ChartRelease, namespace, values)
	if err != nil {
		return nil, fmt.Errorf("rendering charts/drover: %w", err)
	}
	var objs []*unstructured.Unstructured
	for i, doc := range docs {
		o, err := decodeDocument([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("charts/drover, rendered document %d: %w", i+1, err)
		}
		if o != nil && kinds[o.GetKind()] {
			objs = append(objs, o)
		}
	}
	return objs, nil
}

// ServiceAccountOf is the one ServiceAccount among objs (the chart's RBAC, or
// config/workload-rbac read with ReadYAMLDir); an error when there is none or more than
// one.
func ServiceAccountOf(objs []*unstructured.Unstructured) (types.NamespacedName, error) {
	var found []types.NamespacedName
	for _, o := range objs {
		if o.GetKind() == "ServiceAccount" && o.GetAPIVersion() == "v1" {
			found = append(found, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
		}
	}
	if len(found) != 1 {
		return types.NamespacedName{}, fmt.Errorf("want one ServiceAccount, found %d: %v", len(found), found)
	}
	if found[0].Namespace == "" {
		return types.NamespacedName{}, fmt.Errorf("ServiceAccount %s has no namespace", found[0].Name)
	}
	return found[0], nil
}
