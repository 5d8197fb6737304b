package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/testbed"
)

func TestZoneOf(t *testing.T) {
	for in, want := range map[string]string{
		"shop.example.com":      "example.com",
		"Shop.Example.COM.":     "example.com",
		"a.b.shop.example.com":  "b.shop.example.com",
		"example.com":           "example.com",
		"localhost":             "localhost",
		"shop.example.co.uk":    "example.co.uk",
		"www.shop.example.com.": "shop.example.com",
	} {
		if got := zoneOf(in); got != want {
			t.Errorf("zoneOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// appliedSamples returns the objects of config/samples that the sandbox applies.
func appliedSamples(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	applied, _, err := loadSamples(filepath.Join(root, "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	return applied
}

func decode(t *testing.T, yaml string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := harness.DecodeYAML([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

const twoSets = `
apiVersion: drover.dev/v1alpha1
kind: ProdSet
metadata: {name: shop, namespace: default}
spec:
  traffic: {hostedZoneID: ZOLD, recordName: shop.example.com}
---
apiVersion: drover.dev/v1alpha1
kind: ProdSet
metadata: {name: api, namespace: team}
spec:
  traffic: {recordName: api.example.org}
---
apiVersion: drover.dev/v1alpha1
kind: ProdSet
metadata: {name: quiet, namespace: default}
spec: {replicas: 1}
---
apiVersion: drover.dev/v1alpha1
kind: RolloutPolicy
metadata: {name: p, namespace: default}
spec:
  traffic: {recordName: not.a.prodset.example.net}
---
apiVersion: drover.dev/v1alpha1
kind: Tenant
metadata: {name: shop}
spec:
  hostedZones:
  - {id: ZOLD, recordNames: [shop.example.com]}
  - {id: ZELSEWHERE, recordNames: [x.example.com]}
`

func TestZoneNames(t *testing.T) {
	got := zoneNames(append(decode(t, twoSets), decode(t, twoSets)...))
	if want := []string{"example.com", "example.org"}; !slices.Equal(got, want) {
		t.Errorf("zoneNames = %q, want %q", got, want)
	}
}

func TestPointAtZones(t *testing.T) {
	objs := decode(t, twoSets)
	changes, err := pointAtZones(objs, map[string]string{"example.com": "Z1", "example.org": "Z2", "example.net": "Z3"})
	if err != nil {
		t.Fatal(err)
	}
	want := []zoneChange{
		{ProdSet: "default/shop", From: "ZOLD", To: "Z1", Zone: "example.com"},
		{ProdSet: "team/api", From: "", To: "Z2", Zone: "example.org"},
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	for i, wantID := range []string{"Z1", "Z2"} {
		if id, _, _ := unstructured.NestedString(objs[i].Object, "spec", "traffic", "hostedZoneID"); id != wantID {
			t.Errorf("%s: hostedZoneID %q, want %q", objs[i].GetName(), id, wantID)
		}
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(objs[2].Object, "spec", "traffic"); found {
		t.Errorf("a ProdSet that publishes nothing got spec.traffic")
	}
	if _, found, _ := unstructured.NestedString(objs[3].Object, "spec", "traffic", "hostedZoneID"); found {
		t.Errorf("a RolloutPolicy was changed")
	}
	zones, _, _ := unstructured.NestedSlice(objs[4].Object, "spec", "hostedZones")
	var ids []string
	for _, z := range zones {
		ids = append(ids, z.(map[string]any)["id"].(string))
	}
	if want := []string{"Z1", "ZELSEWHERE"}; !slices.Equal(ids, want) {
		t.Errorf("the Tenant's hostedZones ids %q, want %q: the zone its ProdSet moved to, the others as they were", ids, want)
	}

	_, err = pointAtZones(decode(t, twoSets), map[string]string{"example.com": "Z1"})
	if err == nil || !strings.Contains(err.Error(), "team/api") || !strings.Contains(err.Error(), "example.org") {
		t.Errorf("pointAtZones without the zone of team/api = %v, want an error naming the set and the zone", err)
	}
}

// The samples the sandbox applies publish to a zone it can make, and each of their
// Prods fronts a Service its stand-in CCM serves, mirrored to an NLB.
func TestSamplesPublishAndMirror(t *testing.T) {
	applied := appliedSamples(t)
	if names := zoneNames(applied); len(names) == 0 {
		t.Fatal("no sample ProdSet publishes to a hosted zone")
	}
	for _, o := range applied {
		if o.GetKind() != "ProdSet" {
			continue
		}
		if _, found, _ := unstructured.NestedString(o.Object, "spec", "template", "spec", "traffic", "serviceRef", "name"); !found {
			t.Errorf("ProdSet %s: its template has no spec.traffic.serviceRef", o.GetName())
		}
		if _, found, _ := unstructured.NestedMap(o.Object, "spec", "template", "spec", "traffic", "mirror"); !found {
			t.Errorf("ProdSet %s: its template has no spec.traffic.mirror", o.GetName())
		}
	}
}

// The sandbox sets up the sample Tenant for the namespace of the other samples, and
// that Tenant allows what they do: their Clusters (of their own namespace), their target
// namespace and the kinds of their manifests, and no cluster-scoped kind.
func TestSampleTenancy(t *testing.T) {
	applied := appliedSamples(t)
	plan, err := planTenancy(applied)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Tenant == nil {
		t.Fatal("no Tenant among the samples the sandbox applies")
	}
	if want := []string{"default"}; !slices.Equal(plan.Namespaces, want) {
		t.Fatalf("the Tenant would govern %v, want %v (where the sandbox registers its Clusters)", plan.Namespaces, want)
	}
	tenant := &droverv1.Tenant{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(plan.Tenant.Object, tenant); err != nil {
		t.Fatal(err)
	}
	for _, ns := range plan.Namespaces {
		policy := tenancy.Resolve(ns, map[string]string{droverv1.TenantLabel: tenant.Name}, func(name string) (*droverv1.Tenant, bool) {
			return tenant, name == tenant.Name
		}, false)
		if ref := policy.Cluster(ns, workloads[0].Name, workloads[0].Labels); ref != nil {
			t.Errorf("a Cluster of %s refused: %v", ns, ref)
		}
		if ref := policy.ClusterCandidate("fleet", workloads[0].Name); ref == nil {
			t.Errorf("a Cluster of another namespace allowed")
		}
		if ref := policy.Object(schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}, false); ref == nil {
			t.Errorf("a ClusterRoleBinding allowed")
		}
		for _, o := range applied {
			if o.GetKind() != "ProdSet" {
				continue
			}
			target, _, _ := unstructured.NestedString(o.Object, "spec", "template", "spec", "targetNamespace")
			if ref := policy.TargetNamespace(target); ref != nil {
				t.Errorf("ProdSet %s: %v", o.GetName(), ref)
			}
			manifests, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "manifests")
			for i, m := range manifests {
				u := unstructured.Unstructured{Object: m.(map[string]any)}
				// The samples' manifests are all namespaced (ConfigMap, Deployment, Service).
				if ref := policy.Object(u.GroupVersionKind().GroupKind(), true); ref != nil {
					t.Errorf("ProdSet %s, manifest %d: %v", o.GetName(), i, ref)
				}
			}
		}
	}

	two := append(decode(t, `
apiVersion: drover.dev/v1alpha1
kind: Tenant
metadata: {name: other}
spec: {}
`), applied...)
	if _, err := planTenancy(two); err == nil {
		t.Error("planTenancy of two Tenants: no error")
	}
}
