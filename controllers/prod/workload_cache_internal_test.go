package prod

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/manifests"
)

// The cache keeps what drover reads of a workload object and nothing else; the hash of
// drover's managed fields survives a second pass of the transform, and nothing written
// on the workload cluster can stand for it.
func TestStripWorkload(t *testing.T) {
	drover := metav1.ManagedFieldsEntry{Manager: droverv1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		FieldsV1: metav1.NewFieldsV1(`{"f:spec":{"f:replicas":{}}}`)}
	hash := manifests.FieldsHash([]metav1.ManagedFieldsEntry{drover})
	in := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{
			"namespace": "shop", "name": "api", "uid": "uid-api", "resourceVersion": "7", "generation": int64(3),
			"labels": map[string]any{droverv1.ProdUIDLabel: "uid-p", "app": "api"},
			"annotations": map[string]any{
				droverv1.ProdRefAnnotation: "team/web", "kubectl.kubernetes.io/last-applied-configuration": "{...}",
			},
		},
		"spec":   map[string]any{"replicas": int64(2), "template": map[string]any{"spec": map[string]any{}}, "selector": map[string]any{}},
		"status": map[string]any{"observedGeneration": int64(3), "availableReplicas": int64(2)},
	}}
	in.SetManagedFields([]metav1.ManagedFieldsEntry{drover})
	outAny, err := stripWorkload(in)
	if err != nil {
		t.Fatal(err)
	}
	out := outAny.(*unstructured.Unstructured)
	if out.GetUID() != "uid-api" || out.GetResourceVersion() != "7" || out.GetGeneration() != 3 || out.GetName() != "api" || out.GetNamespace() != "shop" {
		t.Errorf("identity not kept: %v", out.Object["metadata"])
	}
	if out.GetManagedFields() != nil {
		t.Error("managedFields kept")
	}
	if got := manifests.CachedFields(out); got != hash {
		t.Errorf("fields hash %q, want %q", got, hash)
	}
	if got := out.GetAnnotations(); len(got) != 1 || got[droverv1.ProdRefAnnotation] != "team/web" {
		t.Errorf("annotations %v, want drover's only", got)
	}
	if got := out.GetLabels(); len(got) != 1 || got[droverv1.ProdUIDLabel] != "uid-p" {
		t.Errorf("labels %v, want drover's only", got)
	}
	if spec := out.Object["spec"].(map[string]any); len(spec) != 1 || spec["replicas"] != int64(2) {
		t.Errorf("spec %v, want only what kstatus reads", spec)
	}
	if _, ok := out.Object["status"]; !ok {
		t.Error("status dropped")
	}

	// Transformed again (a watch's initial list goes through the transform twice).
	again, _ := stripWorkload(out.DeepCopy())
	if got := manifests.CachedFields(again.(*unstructured.Unstructured)); got != hash {
		t.Errorf("after a second pass the fields hash is %q, want %q", got, hash)
	}

	// Without drover's entry there is no hash, whatever annotation claims one.
	in.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: drover.FieldsV1}})
	in.SetAnnotations(map[string]string{manifests.FieldsKey: hash})
	outAny, _ = stripWorkload(in)
	if got := manifests.CachedFields(outAny.(*unstructured.Unstructured)); got != "" {
		t.Errorf("an object without drover's entry has the fields hash %q", got)
	}
	if _, ok := outAny.(*unstructured.Unstructured).GetAnnotations()[manifests.FieldsKey]; ok {
		t.Error("an annotation named like the hash was kept")
	}
}

func TestStripNamespace(t *testing.T) {
	out, _ := stripNamespace(&corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "u", Labels: map[string]string{droverv1.ManagedByLabel: "drover", "x": "y"},
			Annotations:   map[string]string{droverv1.OwnerNamespaceAnnotation: "team", "big": "..."},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}},
		Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}},
	})
	ns := out.(*corev1.Namespace)
	if ns.Name != "shop" || ns.UID != "u" || len(ns.Labels) != 1 || len(ns.Annotations) != 1 || ns.ManagedFields != nil || len(ns.Spec.Finalizers) != 0 {
		t.Errorf("namespace kept %+v", ns)
	}
}

// Only the listed kinds, at their version, are read through the cache: any other would
// start an unrestricted watch.
func TestCachedKindsAreTheRestrictedOnes(t *testing.T) {
	opts := WorkloadCacheOptions()
	restricted := map[schema.GroupVersionKind]bool{}
	for o, by := range opts.ByObject {
		if u, ok := o.(*unstructured.Unstructured); ok {
			if by.Label == nil || by.Label.String() != droverv1.ProdNameLabel || by.Transform == nil {
				t.Errorf("%s is cached without drover's label selector and transform", u.GroupVersionKind())
			}
			restricted[u.GroupVersionKind()] = true
		}
	}
	for _, gvk := range cachedWorkloadKinds {
		if !restricted[gvk] || !cached(gvk) {
			t.Errorf("%s is read from the cache but not restricted", gvk)
		}
	}
	if cached(schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscaler"}) || cached(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}) {
		t.Error("a kind (or version) outside the restricted caches counts as cached")
	}
}
