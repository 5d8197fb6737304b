package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/harness"
)

// fieldManager is the server-side apply field manager of everything the sandbox applies.
const fieldManager = "drover-sandbox"

// sandboxKinds are the sample kinds the sandbox applies. The single Prod sample would
// collide with the ProdSet's Prods (same app, same namespace on each cluster), and the
// ClusterMaintenance sample is for the user to apply when they want to drain a cluster.
// The Tenant is applied first, as the platform team would (setUpTenancy).
var sandboxKinds = map[string]bool{"Tenant": true, "RolloutPolicy": true, "ProdSet": true}

// loadSamples reads the samples in dir and returns those the sandbox applies and those
// it leaves for the user.
func loadSamples(dir string) (apply, skipped []*unstructured.Unstructured, err error) {
	samples, err := readSamples(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range samples {
		if s.GroupVersionKind().Group == droverv1.GroupVersion.Group && sandboxKinds[s.GetKind()] {
			apply = append(apply, s)
		} else {
			skipped = append(skipped, s)
		}
	}
	if countProds(apply) == 0 {
		return nil, nil, fmt.Errorf("no ProdSet among the samples in %s", dir)
	}
	return apply, skipped, nil
}

// applyAll applies objs in order, as fieldManager, but for the Tenants (setUpTenancy
// applies those before). An object an admission policy refuses is retried for a moment
// (applyAdmitted): the API server may not have seen the Tenant yet.
func applyAll(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if isTenant(o) {
			continue
		}
		if err := applyAdmitted(ctx, c, o); err != nil {
			return err
		}
		fmt.Printf("applied %s %s\n", o.GetKind(), client.ObjectKeyFromObject(o))
	}
	return nil
}

// readSamples reads the objects of the YAML files in dir (see harness.ReadYAMLDir); a
// directory without any is an error.
func readSamples(dir string) ([]*unstructured.Unstructured, error) {
	objs, err := harness.ReadYAMLDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the samples: %w", err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no samples in %s", dir)
	}
	return objs, nil
}

// countProds returns how many Prods objs make: one per Prod, spec.replicas (default 1)
// per ProdSet.
func countProds(objs []*unstructured.Unstructured) int {
	n := 0
	for _, o := range objs {
		switch o.GroupVersionKind() {
		case droverv1.GroupVersion.WithKind("Prod"):
			n++
		case droverv1.GroupVersion.WithKind("ProdSet"):
			replicas, found, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
			if !found {
				replicas = 1
			}
			n += int(replicas)
		}
	}
	return n
}

// zoneOf is the hosted zone the sandbox makes for a service name: its parent domain
// (shop.example.com → example.com), or the name itself when it has two labels or fewer.
func zoneOf(recordName string) string {
	name := strings.ToLower(strings.TrimSuffix(recordName, "."))
	if strings.Count(name, ".") < 2 {
		return name
	}
	_, parent, _ := strings.Cut(name, ".")
	return parent
}

// zoneNames are the hosted zones the ProdSets among objs publish to (see zoneOf),
// sorted, each once.
func zoneNames(objs []*unstructured.Unstructured) []string {
	var names []string
	for _, o := range objs {
		if name := recordNameOf(o); name != "" && !slices.Contains(names, zoneOf(name)) {
			names = append(names, zoneOf(name))
		}
	}
	slices.Sort(names)
	return names
}

// recordNameOf is a ProdSet's spec.traffic.recordName; "" for other objects and
// ProdSets that publish nothing.
func recordNameOf(o *unstructured.Unstructured) string {
	if o.GroupVersionKind() != droverv1.GroupVersion.WithKind("ProdSet") {
		return ""
	}
	name, _, _ := unstructured.NestedString(o.Object, "spec", "traffic", "recordName")
	return name
}

// zoneChange is a ProdSet pointed at another hosted zone.
type zoneChange struct {
	ProdSet  string // namespace/name
	From, To string // hosted zone ids
	Zone     string // the zone's name
}

// pointAtZones sets spec.traffic.hostedZoneID of every ProdSet among objs that publishes
// to the id of its zone in ids (by name, see zoneOf), and returns what it changed.
func pointAtZones(objs []*unstructured.Unstructured, ids map[string]string) ([]zoneChange, error) {
	var changes []zoneChange
	for _, o := range objs {
		name := recordNameOf(o)
		if name == "" {
			continue
		}
		zone := zoneOf(name)
		id, ok := ids[zone]
		if !ok {
			return nil, fmt.Errorf("ProdSet %s publishes %s, but there is no hosted zone %s", client.ObjectKeyFromObject(o), name, zone)
		}
		from, _, _ := unstructured.NestedString(o.Object, "spec", "traffic", "hostedZoneID")
		if err := unstructured.SetNestedField(o.Object, id, "spec", "traffic", "hostedZoneID"); err != nil {
			return nil, fmt.Errorf("ProdSet %s: %w", client.ObjectKeyFromObject(o), err)
		}
		changes = append(changes, zoneChange{ProdSet: client.ObjectKeyFromObject(o).String(), From: from, To: id, Zone: zone})
	}
	// The Tenants that list a zone a ProdSet was moved from list the zone it moved to.
	for _, o := range objs {
		if o.GroupVersionKind() != droverv1.GroupVersion.WithKind("Tenant") {
			continue
		}
		zones, _, _ := unstructured.NestedSlice(o.Object, "spec", "hostedZones")
		for _, z := range zones {
			m, ok := z.(map[string]any)
			if !ok {
				continue
			}
			for _, c := range changes {
				if m["id"] == c.From {
					m["id"] = c.To
				}
			}
		}
		if len(zones) > 0 {
			if err := unstructured.SetNestedSlice(o.Object, zones, "spec", "hostedZones"); err != nil {
				return nil, fmt.Errorf("sample Tenant %s: %w", o.GetName(), err)
			}
		}
	}
	return changes, nil
}
