package prod

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// The caches hold the cached kinds typed (decoded from protobuf). A read of a typed copy
// gives exactly what the transform gives the same object decoded as unstructured, for
// every cached kind; the hash survives a second pass; and a managedFields entry written on
// the workload cluster under the hash's name stands for nothing.
func TestStripTypedMatchesUnstructured(t *testing.T) {
	drover := metav1.ManagedFieldsEntry{Manager: droverv1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{}}}`)}
	other := metav1.ManagedFieldsEntry{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{}}`)}
	hash := manifests.FieldsHash([]metav1.ManagedFieldsEntry{drover})
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Namespace: "shop", Name: "api", UID: "uid-api", ResourceVersion: "7", Generation: 3,
			CreationTimestamp: metav1.Now(),
			Labels:            map[string]string{droverv1.ProdUIDLabel: "uid-p", droverv1.ProdNameLabel: "web", "app": "api"},
			Annotations:       map[string]string{droverv1.ProdRefAnnotation: "team/web", "kubectl.kubernetes.io/last-applied-configuration": "{...}"},
			ManagedFields:     []metav1.ManagedFieldsEntry{other, drover},
		}
	}
	replicas := int32(2)
	samples := map[schema.GroupVersionKind]client.Object{
		{Version: "v1", Kind: "ConfigMap"}: &corev1.ConfigMap{ObjectMeta: meta(), Data: map[string]string{"big": "data"}},
		{Version: "v1", Kind: "Service"}: &corev1.Service{ObjectMeta: meta(),
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "None", Selector: map[string]string{"app": "api"}}},
		{Group: "apps", Version: "v1", Kind: "Deployment"}: &appsv1.Deployment{ObjectMeta: meta(),
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "api", Image: "api:v1"}}}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, AvailableReplicas: 2, Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, LastUpdateTime: metav1.Now(), Reason: "MinimumReplicasAvailable"}}}},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}: &rbacv1.Role{ObjectMeta: meta(),
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, Resources: []string{"pods"}}}},
	}
	for _, gvk := range cachedWorkloadKinds {
		if _, ok := samples[gvk]; !ok {
			o := newCached(gvk)
			m := meta()
			m.DeepCopyInto(metaOf(o))
			samples[gvk] = o
		}
	}
	for gvk, typed := range samples {
		t.Run(gvk.Kind, func(t *testing.T) {
			// As the unstructured caches held it: the object decoded from JSON, stripped.
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: m}
			u.SetGroupVersionKind(gvk)
			wantAny, _ := stripWorkload(u)
			want := wantAny.(*unstructured.Unstructured)

			strippedAny, err := stripWorkload(typed.DeepCopyObject())
			if err != nil {
				t.Fatal(err)
			}
			stripped := strippedAny.(client.Object)
			if stripped.GetObjectKind().GroupVersionKind() != gvk {
				t.Errorf("the kept copy's kind is %v, want %v", stripped.GetObjectKind().GroupVersionKind(), gvk)
			}
			if got := manifests.CachedFields(stripped); got != hash {
				t.Errorf("fields hash %q, want %q", got, hash)
			}
			again, _ := stripWorkload(stripped.DeepCopyObject())
			got, err := asUnstructured(again.(client.Object))
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(got.Object, want.Object) {
				t.Errorf("a read of the typed copy gives\n%v\nthe unstructured transform gives\n%v", got.Object, want.Object)
			}
			if gvk.Kind == "Deployment" {
				if spec := got.Object["spec"].(map[string]any); len(spec) != 1 || spec["replicas"] != int64(2) {
					t.Errorf("spec %v, want only what kstatus reads", spec)
				}
			}

			// An entry named like the hash, written on the workload cluster (it must have an
			// operation), is not the hash.
			forged := typed.DeepCopyObject().(client.Object)
			forged.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: manifests.FieldsKey, Operation: metav1.ManagedFieldsOperationUpdate,
				FieldsV1: metav1.NewFieldsV1(hash)}})
			out, _ := stripWorkload(forged)
			if got := manifests.CachedFields(out.(client.Object)); got != "" {
				t.Errorf("a forged entry gives the fields hash %q", got)
			}
		})
	}
}

func metaOf(o client.Object) *metav1.ObjectMeta {
	return reflect.ValueOf(o).Elem().FieldByName("ObjectMeta").Addr().Interface().(*metav1.ObjectMeta)
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
		if _, isNamespace := o.(*corev1.Namespace); isNamespace {
			continue
		}
		gvks, _, err := kscheme.Scheme.ObjectKinds(o)
		if err != nil || len(gvks) != 1 {
			t.Fatalf("%T: %v %v", o, gvks, err)
		}
		if by.Label == nil || by.Label.String() != droverv1.ProdNameLabel || by.Transform == nil {
			t.Errorf("%s is cached without drover's label selector and transform", gvks[0])
		}
		restricted[gvks[0]] = true
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
