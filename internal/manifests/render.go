package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// VersionPlaceholder in a manifest is replaced by the Prod's spec.version.
const VersionPlaceholder = "${DROVER_VERSION}"

// ScopeFunc tells whether objects of a kind are namespaced. On a workload cluster it is
// backed by that cluster's REST mapper.
type ScopeFunc func(gvk schema.GroupVersionKind) (namespaced bool, err error)

// InvalidError is a manifest that cannot be applied as written. Its message is meant for
// the Prod's Applied condition.
type InvalidError struct {
	Index   int
	Message string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("spec.manifests[%d]: %s", e.Index, e.Message)
}

// Render decodes the Prod's manifests, substitutes the version, places namespaced objects
// in spec.targetNamespace and labels (OwnerLabels) and annotates (ProdRefAnnotation)
// every object with the Prod it belongs to. It refuses
// (with *InvalidError) objects without apiVersion, kind or name, namespaces other than the
// target one, and the same object listed twice (under any API version). A ScopeFunc
// error is returned as is.
func Render(prod *droverv1.Prod, scope ScopeFunc) ([]*unstructured.Unstructured, error) {
	spec := prod.Spec.ProdTemplateSpec
	out := make([]*unstructured.Unstructured, 0, len(spec.Manifests))
	seen := map[droverv1.ObjectReference]int{}
	for i, raw := range spec.Manifests {
		data := raw.Raw
		if len(data) == 0 && raw.Object != nil {
			var err error
			if data, err = json.Marshal(raw.Object); err != nil {
				return nil, &InvalidError{Index: i, Message: err.Error()}
			}
		}
		data = bytes.ReplaceAll(data, []byte(VersionPlaceholder), []byte(spec.Version))
		obj, err := decode(data)
		if err != nil {
			return nil, &InvalidError{Index: i, Message: fmt.Sprintf("not a Kubernetes object: %v", err)}
		}
		gvk := obj.GroupVersionKind()
		if gvk.Kind == "" || gvk.Version == "" {
			return nil, &InvalidError{Index: i, Message: "apiVersion and kind are required"}
		}
		if obj.GetName() == "" {
			return nil, &InvalidError{Index: i, Message: "metadata.name is required"}
		}
		namespaced, err := scope(gvk)
		if err != nil {
			return nil, err
		}
		switch {
		case !namespaced && obj.GetNamespace() != "":
			return nil, &InvalidError{Index: i, Message: fmt.Sprintf("%s is cluster-scoped and cannot have metadata.namespace", gvk.Kind)}
		case namespaced && obj.GetNamespace() != "" && obj.GetNamespace() != spec.TargetNamespace:
			return nil, &InvalidError{Index: i, Message: fmt.Sprintf("metadata.namespace %q differs from spec.targetNamespace %q", obj.GetNamespace(), spec.TargetNamespace)}
		case namespaced:
			obj.SetNamespace(spec.TargetNamespace)
		}
		// The same object under another API version is still the same object (see Stale).
		ref := RefOf(obj)
		if j, dup := seen[sameObject(ref)]; dup {
			return nil, &InvalidError{Index: i, Message: fmt.Sprintf("%s duplicates spec.manifests[%d]", describe(ref), j)}
		}
		seen[sameObject(ref)] = i
		// Ownership labels go last so a manifest cannot overwrite them.
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range OwnerLabels(prod) {
			labels[k] = v
		}
		obj.SetLabels(labels)
		annotations := obj.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[droverv1.ProdRefAnnotation] = ProdRef(prod)
		obj.SetAnnotations(annotations)
		// Server-side apply rejects these when set by a client.
		obj.SetResourceVersion("")
		obj.SetUID("")
		obj.SetManagedFields(nil)
		obj.SetCreationTimestamp(metav1Zero)
		unstructured.RemoveNestedField(obj.Object, "status")
		out = append(out, obj)
	}
	return out, nil
}

// decode reads one object. Numbers become int64 as the API machinery expects; a missing
// kind is left for Render to explain.
func decode(data []byte) (*unstructured.Unstructured, error) {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if _, hasKind := m["kind"]; !hasKind {
		obj.Object = m
		return obj, nil
	}
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return obj, nil
}

// Object is an object with its kind: unstructured, or typed with its TypeMeta set.
type Object interface {
	metav1.Object
	runtime.Object
}

// RefOf returns the inventory entry of an object, with its UID when it has one (an
// object as the API server returned it; a rendered one has none).
func RefOf(obj Object) droverv1.ObjectReference {
	gvk := obj.GetObjectKind().GroupVersionKind()
	return droverv1.ObjectReference{
		Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind,
		Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID(),
	}
}

// RecordedUID returns the UID inventory records for the object ref names (under any API
// version), empty when it records none.
func RecordedUID(inventory []droverv1.ObjectReference, ref droverv1.ObjectReference) types.UID {
	key := sameObject(ref)
	for _, r := range inventory {
		if sameObject(r) == key {
			return r.UID
		}
	}
	return ""
}

// Inventory returns the inventory entries of objects, sorted.
func Inventory(objs []*unstructured.Unstructured) []droverv1.ObjectReference {
	out := make([]droverv1.ObjectReference, 0, len(objs))
	for _, o := range objs {
		out = append(out, RefOf(o))
	}
	SortRefs(out)
	return out
}

// Union returns the entries in a or b, sorted, each once. The Prod controller records the
// union before it applies, so a crash between apply and prune never loses track of an
// object.
func Union(a, b []droverv1.ObjectReference) []droverv1.ObjectReference {
	set := map[droverv1.ObjectReference]bool{}
	out := []droverv1.ObjectReference{}
	for _, list := range [][]droverv1.ObjectReference{a, b} {
		for _, r := range list {
			if !set[sameObject(r)] {
				set[sameObject(r)] = true
				out = append(out, r)
			}
		}
	}
	SortRefs(out)
	return out
}

// Stale returns the entries of the inventory that are not among the desired objects:
// what must be pruned. An object whose kind moved to another version is the same object
// and not stale.
func Stale(inventory, desired []droverv1.ObjectReference) []droverv1.ObjectReference {
	want := map[droverv1.ObjectReference]bool{}
	for _, d := range desired {
		want[sameObject(d)] = true
	}
	var out []droverv1.ObjectReference
	for _, r := range inventory {
		if !want[sameObject(r)] {
			out = append(out, r)
		}
	}
	return out
}

// sameObject drops the version, the UID and the apply record: an object keeps its identity across API
// versions, and the inventory entry of an object is the same entry before and after the
// object was applied.
func sameObject(r droverv1.ObjectReference) droverv1.ObjectReference {
	r.Version = ""
	r.UID = ""
	r.Applied = ""
	return r
}

// SortRefs sorts inventory entries: cluster-scoped first, then by group, kind, namespace, name.
func SortRefs(refs []droverv1.ObjectReference) {
	sort.SliceStable(refs, func(i, j int) bool {
		a, b := refs[i], refs[j]
		if (a.Namespace == "") != (b.Namespace == "") {
			return a.Namespace == ""
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}

func describe(r droverv1.ObjectReference) string {
	if r.Namespace == "" {
		return fmt.Sprintf("%s %s", r.Kind, r.Name)
	}
	return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
}

// Describe names an inventory entry for a condition message.
func Describe(r droverv1.ObjectReference) string { return describe(r) }
