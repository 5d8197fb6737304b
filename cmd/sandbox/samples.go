package main

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/harness"
)

// fieldManager is the server-side apply field manager of everything the sandbox applies.
const fieldManager = "drover-sandbox"

// loadSamples reads every sample in dir and adds, for each Prod sample, a copy on
// every other cluster of clusters.
func loadSamples(dir string, clusters []string) ([]*unstructured.Unstructured, error) {
	samples, err := readSamples(dir)
	if err != nil {
		return nil, err
	}
	derived, err := perClusterProds(samples, clusters)
	if err != nil {
		return nil, err
	}
	return append(samples, derived...), nil
}

// applyAll applies objs in order, as fieldManager.
func applyAll(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if err := harness.Apply(ctx, c, fieldManager, o); err != nil {
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

// perClusterProds returns, for every Prod among samples, a copy on each of clusters
// that the sample does not target. A copy of Prod shop-workload-1 on workload-2 is
// named shop-workload-2 (a name not ending in the sample's cluster gets the new
// cluster's name appended).
func perClusterProds(samples []*unstructured.Unstructured, clusters []string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, s := range samples {
		if s.GroupVersionKind() != droverv1.GroupVersion.WithKind("Prod") {
			continue
		}
		from, _, err := unstructured.NestedString(s.Object, "spec", "clusterRef", "name")
		if err != nil {
			return nil, fmt.Errorf("sample Prod %s: spec.clusterRef.name: %w", s.GetName(), err)
		}
		for _, to := range clusters {
			if to == from {
				continue
			}
			p := s.DeepCopy()
			p.SetName(derivedName(s.GetName(), from, to))
			if err := unstructured.SetNestedField(p.Object, to, "spec", "clusterRef", "name"); err != nil {
				return nil, fmt.Errorf("sample Prod %s: setting spec.clusterRef.name: %w", s.GetName(), err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// derivedName names the copy on cluster to of the Prod name that targets cluster from.
func derivedName(name, from, to string) string {
	if base, ok := strings.CutSuffix(name, "-"+from); ok && from != "" {
		return base + "-" + to
	}
	return name + "-" + to
}

// firstProd returns the first Prod among objs, or nil.
func firstProd(objs []*unstructured.Unstructured) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GroupVersionKind() == droverv1.GroupVersion.WithKind("Prod") {
			return o
		}
	}
	return nil
}

// countProds returns how many of objs are Prods.
func countProds(objs []*unstructured.Unstructured) int {
	n := 0
	for _, o := range objs {
		if o.GroupVersionKind() == droverv1.GroupVersion.WithKind("Prod") {
			n++
		}
	}
	return n
}
