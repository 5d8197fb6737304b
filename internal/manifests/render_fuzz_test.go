package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// versionPattern is the CRD's pattern of spec.version (with its MaxLength of 128): what
// the API server lets through to Render.
var versionPattern = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_.+]*$`)

// errNoSuchKind is what fuzzScope answers for kind Unknown, as a workload cluster without
// the CRD would.
var errNoSuchKind = errors.New("no matches for kind Unknown")

// fuzzScope knows a few cluster-scoped kinds, fails for Unknown and calls the rest
// namespaced.
func fuzzScope(gvk schema.GroupVersionKind) (bool, error) {
	switch gvk.Kind {
	case "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume":
		return false, nil
	case "Unknown":
		return false, errNoSuchKind
	}
	return true, nil
}

// FuzzRender feeds arbitrary bytes to Render as one or two manifests, with an arbitrary
// version (and a target namespace and Prod name as the CRD admits them), and checks what the Prod controller relies
// on: Render never panics and never changes the Prod; it is deterministic; a refusal is
// an *InvalidError naming a manifest that exists, or the scope error as is; and what it
// accepts is one applicable object per manifest (apiVersion, kind and name set, placed
// in the target namespace or cluster-scoped, drover's ownership labels, nothing server
// side apply refuses), JSON round-trips, and lists no object twice, even under another
// API version (the inventory treats those as the same object). For input as the API
// server hands it over (canonical JSON) and a version the CRD admits, no placeholder is
// left and the raw and canonical forms render the same.
//
// Caught by the inventory property: Render let the same object through twice under two
// API versions (autoscaling/v1 and v2 of one HorizontalPodAutoscaler), which the
// inventory counts as one object and both of which were applied, the second overwriting
// the first on every apply (seed same-object-two-api-versions).
//
//	go test -run='^$' -fuzz='^FuzzRender$' -fuzztime=60s -fuzzminimizetime=100x -parallel=1 ./internal/manifests/
func FuzzRender(f *testing.F) {
	for _, seed := range []struct{ first, second, version, targetNamespace, name string }{
		{deployment, configMap, "v2.1.0", "shop", "shop-eu-1"},
		{clusterRole, "", "v1", "shop", "shop-eu-1"},
		{configMap, configMap, "v1", "shop", "shop-eu-1"}, // duplicate
		{`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api"}}`,
			`{"apiVersion":"apps/v1beta2","kind":"Deployment","metadata":{"name":"api"}}`, "v1", "shop", "shop-eu-1"}, // the same object twice
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"kube-system"}}`, "", "v1", "shop", "p"},
		{`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x","namespace":"shop"}}`, "", "v1", "shop", "p"},
		{`{"apiVersion":"example.com/v1","kind":"Unknown","metadata":{"name":"x"}}`, "", "v1", "shop", "p"},
		{`{"apiVersion":"v1","metadata":{"name":"x"}}`, "", "v1", "shop", "p"},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"${DROVER_VERSION}","labels":{"v":"${DROVER_VERSION}"}},"data":{"${DROVER_VERSION}":"1.0"}}`,
			"", "sha-0123abc", "shop", "p"},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":7,"resourceVersion":"5","uid":"u","managedFields":[{}],"creationTimestamp":"2024-01-01T00:00:00Z"},"status":{}}`,
			"", "v1", "shop", "p"},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":"x"}`, `[1,2]`, "v1", "shop", "p"},
		{`null`, `{"kind":5}`, "v1", "shop", "p"},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"n":12345678901234567890,"f":1.0}}`, "", `x","kind":"Secret`, "shop", "p"},
		{configMap, "", "v1", "", strings.Repeat("a.", 40) + "b"},
	} {
		f.Add([]byte(seed.first), []byte(seed.second), seed.version, seed.targetNamespace, seed.name)
	}
	f.Fuzz(func(t *testing.T, first, second []byte, version, targetNamespace, name string) {
		// The API server admits only DNS names here; other fields are fuzzed as they come.
		if !isDNSSubdomain(name) {
			name = "shop-eu-1"
		}
		if len(validation.IsDNS1123Label(targetNamespace)) > 0 {
			targetNamespace = "shop"
		}
		raws := [][]byte{first}
		if len(second) > 0 {
			raws = append(raws, second)
		}
		prod := fuzzProd(name, version, targetNamespace, raws)
		objs := checkRender(t, prod)

		canonical, ok := canonicalJSON(raws)
		if !ok {
			return
		}
		cprod := fuzzProd(name, version, targetNamespace, canonical)
		cobjs := checkRender(t, cprod)
		if !versionPattern.MatchString(version) || len(version) > 128 {
			return // a version the CRD refuses may break the JSON it is substituted into
		}
		for i, o := range cobjs {
			if s := findString(o.Object, VersionPlaceholder); s != "" {
				t.Errorf("object %d still holds the placeholder after rendering version %q: %q", i, version, s)
			}
		}
		// Without escapes the raw text is the canonical text reordered: the same objects.
		if !bytes.Contains(first, []byte(`\`)) && !bytes.Contains(second, []byte(`\`)) {
			if (objs == nil) != (cobjs == nil) || mustJSON(t, objs) != mustJSON(t, cobjs) {
				t.Errorf("the raw and canonical forms of the manifests render differently:\nraw:       %s\ncanonical: %s", mustJSON(t, objs), mustJSON(t, cobjs))
			}
		}
	})
}

// checkRender renders prod and checks the properties that hold for any input; it returns
// the objects, or nil when Render refused.
func checkRender(t *testing.T, prod *droverv1.Prod) []*unstructured.Unstructured {
	t.Helper()
	before := prod.DeepCopy()
	objs, err := Render(prod, fuzzScope)
	if !reflect.DeepEqual(before, prod) {
		t.Fatalf("Render changed the Prod")
	}
	again, errAgain := Render(prod, fuzzScope)
	if errString(err) != errString(errAgain) || mustJSON(t, objs) != mustJSON(t, again) {
		t.Fatalf("Render is not deterministic:\n%v %s\n%v %s", err, mustJSON(t, objs), errAgain, mustJSON(t, again))
	}
	if err != nil {
		if objs != nil {
			t.Errorf("Render returned objects with the error %v", err)
		}
		var invalid *InvalidError
		switch {
		case errors.As(err, &invalid):
			if invalid.Index < 0 || invalid.Index >= len(prod.Spec.Manifests) || invalid.Message == "" {
				t.Errorf("InvalidError %+v does not name one of the %d manifests with a message", invalid, len(prod.Spec.Manifests))
			}
		case !errors.Is(err, errNoSuchKind):
			t.Errorf("Render refused with %T %v, want an *InvalidError or the scope's error", err, err)
		}
		return nil
	}

	spec := prod.Spec
	if len(objs) != len(spec.Manifests) {
		t.Fatalf("Render returned %d objects for %d manifests", len(objs), len(spec.Manifests))
	}
	for i, o := range objs {
		gvk := o.GroupVersionKind()
		if o.GetAPIVersion() == "" || gvk.Kind == "" || gvk.Version == "" || o.GetName() == "" {
			t.Errorf("object %d lacks apiVersion, kind or name: %s", i, mustJSON(t, o))
		}
		namespaced, _ := fuzzScope(gvk)
		switch ns := o.GetNamespace(); {
		case namespaced && ns != spec.TargetNamespace:
			t.Errorf("object %d (%s) is in namespace %q, want spec.targetNamespace %q", i, gvk.Kind, ns, spec.TargetNamespace)
		case !namespaced && ns != "":
			t.Errorf("cluster-scoped object %d (%s) has namespace %q", i, gvk.Kind, ns)
		}
		if !Owns(prod, o, false) || o.GetLabels()[droverv1.ProdNameLabel] != truncateLabel(prod.Name) {
			t.Errorf("object %d lacks drover's ownership labels: %v", i, o.GetLabels())
		}
		if ns, name, _ := ProdOf(o); ns+"/"+name != ProdRef(prod) {
			t.Errorf("object %d names Prod %s/%s, want %s", i, ns, name, ProdRef(prod))
		}
		if o.GetResourceVersion() != "" || o.GetUID() != "" || o.GetManagedFields() != nil || o.GetCreationTimestamp() != metav1Zero {
			t.Errorf("object %d keeps fields server-side apply refuses: %s", i, mustJSON(t, o))
		}
		if _, has := o.Object["status"]; has {
			t.Errorf("object %d keeps its status", i)
		}
		// What is applied is sent as JSON: it must read back as the same object.
		data := mustJSON(t, o)
		back := &unstructured.Unstructured{}
		if err := back.UnmarshalJSON([]byte(data)); err != nil {
			t.Errorf("object %d does not read back from its JSON %s: %v", i, data, err)
		} else if got := mustJSON(t, back); got != data {
			t.Errorf("object %d does not round-trip through JSON:\n%s\n%s", i, data, got)
		}
	}
	for k, v := range OwnerLabels(prod) {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("ownership label %s=%q is not a valid label value: %v", k, v, errs)
		}
	}
	// The inventory is what prune and cleanup work from: one entry per object.
	inv := Inventory(objs)
	if u := Union(nil, inv); len(u) != len(objs) {
		t.Errorf("Render accepted the same object twice: %d objects, %d inventory entries %v", len(objs), len(u), u)
	}
	if stale := Stale(inv, inv); len(stale) != 0 {
		t.Errorf("Stale(inventory, inventory) = %v, want nothing", stale)
	}
	return objs
}

func fuzzProd(name, version, targetNamespace string, raws [][]byte) *droverv1.Prod {
	p := &droverv1.Prod{}
	p.Name, p.Namespace, p.UID = name, "team-shop", "7f3c2a51-fuzz"
	p.Spec.Version, p.Spec.TargetNamespace = version, targetNamespace
	for _, r := range raws {
		p.Spec.Manifests = append(p.Spec.Manifests, runtime.RawExtension{Raw: slices.Clone(r)})
	}
	return p
}

func isDNSSubdomain(s string) bool { return len(validation.IsDNS1123Subdomain(s)) == 0 }

// canonicalJSON re-encodes each manifest the way the API server stores it (numbers kept
// as written); false when one is not JSON.
func canonicalJSON(raws [][]byte) ([][]byte, bool) {
	out := make([][]byte, len(raws))
	for i, r := range raws {
		if !json.Valid(r) {
			return nil, false
		}
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		data, err := json.Marshal(v)
		if err != nil {
			return nil, false
		}
		out[i] = data
	}
	return out, true
}

// findString returns the first key or string value in v that contains sub, or "".
func findString(v any, sub string) string {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, sub) {
			return x
		}
	case map[string]any:
		for k, e := range x {
			if strings.Contains(k, sub) {
				return k
			}
			if s := findString(e, sub); s != "" {
				return s
			}
		}
	case []any:
		for _, e := range x {
			if s := findString(e, sub); s != "" {
				return s
			}
		}
	}
	return ""
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return string(data)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
