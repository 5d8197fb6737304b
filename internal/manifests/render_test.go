package manifests

import (
	"errors"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func testProd(manifests ...string) *droverv1.Prod {
	p := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Name: "shop-eu-1", Namespace: "team-shop", UID: "0b5a5e8e-uid-shop-eu-1"}}
	p.Spec.Version = "v2.1.0"
	p.Spec.TargetNamespace = "shop"
	for _, m := range manifests {
		p.Spec.Manifests = append(p.Spec.Manifests, runtime.RawExtension{Raw: []byte(m)})
	}
	return p
}

// clusterScoped is a scope function that knows Namespaces and ClusterRoles are cluster-scoped.
func clusterScoped(gvk schema.GroupVersionKind) (bool, error) {
	switch gvk.Kind {
	case "Namespace", "ClusterRole":
		return false, nil
	case "Unknown":
		return false, errors.New("no matches for kind Unknown")
	}
	return true, nil
}

const (
	deployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","labels":{"app":"api","drover.dev/prod":"spoofed","drover.dev/prod-uid":"spoofed"},"annotations":{"drover.dev/prod-ref":"x/spoofed"}},` +
		`"spec":{"template":{"spec":{"containers":[{"name":"api","image":"registry.example/api:${DROVER_VERSION}"}]}}},"status":{"replicas":3}}`
	configMap   = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"}}`
	clusterRole = `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"shop-reader"}}`
)

func TestRender(t *testing.T) {
	tests := []struct {
		name      string
		manifests []string
		wantErr   string // substring; empty means success
		check     func(t *testing.T, p *droverv1.Prod, out []map[string]any)
	}{
		{
			name:      "substitutes the version, places namespaced objects and labels them",
			manifests: []string{deployment, configMap},
			check: func(t *testing.T, p *droverv1.Prod, out []map[string]any) {
				image := out[0]["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]
				if image != "registry.example/api:v2.1.0" {
					t.Errorf("image = %v, want the version substituted", image)
				}
				for i, o := range out {
					md := o["metadata"].(map[string]any)
					if md["namespace"] != "shop" {
						t.Errorf("object %d namespace = %v, want shop", i, md["namespace"])
					}
					labels := md["labels"].(map[string]any)
					if labels[droverv1.ProdNameLabel] != "shop-eu-1" || labels[droverv1.ProdNamespaceLabel] != "team-shop" ||
						labels[droverv1.ProdUIDLabel] != string(p.UID) {
						t.Errorf("object %d labels = %v, want drover's ownership labels (not overridable)", i, labels)
					}
					if ref := md["annotations"].(map[string]any)[droverv1.ProdRefAnnotation]; ref != "team-shop/shop-eu-1" {
						t.Errorf("object %d annotation %s = %v, want team-shop/shop-eu-1", i, droverv1.ProdRefAnnotation, ref)
					}
				}
				if out[0]["metadata"].(map[string]any)["labels"].(map[string]any)["app"] != "api" {
					t.Errorf("the manifest's own labels must be kept")
				}
				if _, has := out[0]["status"]; has {
					t.Errorf("status must not be applied")
				}
			},
		},
		{
			name:      "cluster-scoped objects get no namespace",
			manifests: []string{clusterRole},
			check: func(t *testing.T, _ *droverv1.Prod, out []map[string]any) {
				if ns, has := out[0]["metadata"].(map[string]any)["namespace"]; has {
					t.Errorf("cluster-scoped object got namespace %v", ns)
				}
			},
		},
		{name: "missing kind", manifests: []string{`{"apiVersion":"v1","metadata":{"name":"x"}}`}, wantErr: "spec.manifests[0]: apiVersion and kind are required"},
		{name: "missing name", manifests: []string{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}`}, wantErr: "metadata.name is required"},
		{name: "not an object", manifests: []string{`[1,2]`}, wantErr: "not a Kubernetes object"},
		{name: "other namespace", manifests: []string{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"kube-system"}}`}, wantErr: `metadata.namespace "kube-system" differs from spec.targetNamespace "shop"`},
		{name: "same namespace is fine", manifests: []string{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"shop"}}`}},
		{name: "namespace on a cluster-scoped object", manifests: []string{`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"x","namespace":"shop"}}`}, wantErr: "cluster-scoped"},
		{name: "duplicate", manifests: []string{configMap, deployment, configMap}, wantErr: "spec.manifests[2]: ConfigMap shop/settings duplicates spec.manifests[0]"},
		{name: "same name, other kind is no duplicate", manifests: []string{configMap, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"settings"}}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProd(tt.manifests...)
			objs, err := Render(p, clusterScoped)
			if tt.wantErr != "" {
				var invalid *InvalidError
				if err == nil || !errors.As(err, &invalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Render() error = %v, want an InvalidError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}
			if len(objs) != len(tt.manifests) {
				t.Fatalf("Render() returned %d objects, want %d", len(objs), len(tt.manifests))
			}
			if tt.check != nil {
				out := make([]map[string]any, len(objs))
				for i, o := range objs {
					out[i] = o.Object
				}
				tt.check(t, p, out)
			}
		})
	}
}

func TestRenderPassesScopeErrorsThrough(t *testing.T) {
	_, err := Render(testProd(`{"apiVersion":"example.com/v1","kind":"Unknown","metadata":{"name":"x"}}`), clusterScoped)
	var invalid *InvalidError
	if err == nil || errors.As(err, &invalid) {
		t.Fatalf("Render() error = %v, want the scope error (the cluster may just lack a CRD)", err)
	}
}

func TestRenderDoesNotMutateSpec(t *testing.T) {
	p := testProd(deployment)
	before := string(p.Spec.Manifests[0].Raw)
	if _, err := Render(p, clusterScoped); err != nil {
		t.Fatal(err)
	}
	if string(p.Spec.Manifests[0].Raw) != before {
		t.Fatalf("Render changed spec.manifests")
	}
}

func ref(kind, ns, name string) droverv1.ObjectReference {
	return droverv1.ObjectReference{Version: "v1", Kind: kind, Namespace: ns, Name: name}
}

func TestStaleAndUnion(t *testing.T) {
	cm, dep, ns := ref("ConfigMap", "shop", "a"), ref("Deployment", "shop", "api"), ref("Namespace", "", "shop")
	depV2 := dep
	depV2.Version = "v2"
	depApplied := dep
	depApplied.UID = "0d5e2a3c"
	tests := []struct {
		name               string
		inventory, desired []droverv1.ObjectReference
		wantStale          []droverv1.ObjectReference
		wantUnion          []droverv1.ObjectReference
	}{
		{name: "nothing recorded yet", desired: []droverv1.ObjectReference{dep, cm}, wantUnion: []droverv1.ObjectReference{cm, dep}},
		{name: "an object left the manifests", inventory: []droverv1.ObjectReference{cm, dep}, desired: []droverv1.ObjectReference{dep},
			wantStale: []droverv1.ObjectReference{cm}, wantUnion: []droverv1.ObjectReference{cm, dep}},
		{name: "a version change is the same object", inventory: []droverv1.ObjectReference{dep}, desired: []droverv1.ObjectReference{depV2},
			wantUnion: []droverv1.ObjectReference{dep}},
		{name: "cluster-scoped sort first", inventory: []droverv1.ObjectReference{cm}, desired: []droverv1.ObjectReference{cm, ns},
			wantUnion: []droverv1.ObjectReference{ns, cm}},
		{name: "everything left", inventory: []droverv1.ObjectReference{cm, dep}, wantStale: []droverv1.ObjectReference{cm, dep}, wantUnion: []droverv1.ObjectReference{cm, dep}},
		{name: "an applied object is the rendered one", inventory: []droverv1.ObjectReference{depApplied, cm}, desired: []droverv1.ObjectReference{dep},
			wantStale: []droverv1.ObjectReference{cm}, wantUnion: []droverv1.ObjectReference{cm, depApplied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Stale(tt.inventory, tt.desired); !slices.Equal(got, tt.wantStale) {
				t.Errorf("Stale() = %v, want %v", got, tt.wantStale)
			}
			if got := Union(tt.inventory, tt.desired); !slices.Equal(got, tt.wantUnion) {
				t.Errorf("Union() = %v, want %v", got, tt.wantUnion)
			}
		})
	}
}

func TestRecordedUID(t *testing.T) {
	dep, cm := ref("Deployment", "shop", "api"), ref("ConfigMap", "shop", "a")
	dep.UID = "0d5e2a3c"
	inventory := []droverv1.ObjectReference{cm, dep}
	depV2 := ref("Deployment", "shop", "api")
	depV2.Version = "v2"
	for _, tt := range []struct {
		name string
		ref  droverv1.ObjectReference
		want string
	}{
		{"recorded", ref("Deployment", "shop", "api"), "0d5e2a3c"},
		{"under another version", depV2, "0d5e2a3c"},
		{"recorded without a UID (an older drover, or not applied yet)", ref("ConfigMap", "shop", "a"), ""},
		{"not in the inventory", ref("Deployment", "shop", "web"), ""},
		{"another namespace", ref("Deployment", "pay", "api"), ""},
	} {
		if got := RecordedUID(inventory, tt.ref); string(got) != tt.want {
			t.Errorf("%s: RecordedUID = %q, want %q", tt.name, got, tt.want)
		}
	}
}
