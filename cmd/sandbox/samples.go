package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
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

// applyAll applies objs in order.
func applyAll(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if err := apply(ctx, c, o); err != nil {
			return err
		}
		fmt.Printf("applied %s %s\n", o.GetKind(), client.ObjectKeyFromObject(o))
	}
	return nil
}

// apply server-side applies o as fieldManager, taking over conflicting fields.
func apply(ctx context.Context, c client.Client, o *unstructured.Unstructured) error {
	err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(fieldManager), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("applying %s %s: %w", o.GetKind(), client.ObjectKeyFromObject(o), err)
	}
	return nil
}

// readSamples decodes every YAML document of the *.yaml files in dir, in file name
// order, skipping kustomization.yaml and empty documents.
func readSamples(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("listing samples in %s: %w", dir, err)
	}
	sort.Strings(files)
	var objs []*unstructured.Unstructured
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		docs, err := readYAMLFile(f)
		if err != nil {
			return nil, err
		}
		objs = append(objs, docs...)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no samples in %s", dir)
	}
	return objs, nil
}

// readYAMLFile decodes every non-empty document of a YAML file.
func readYAMLFile(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading sample: %w", err)
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		o, err := decodeDocument(doc)
		if err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", path, i, err)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
}

// decodeDocument decodes one YAML document into an object; nil for an empty one (only
// comments or whitespace).
func decodeDocument(doc []byte) (*unstructured.Unstructured, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	if trimmed := strings.TrimSpace(string(js)); trimmed == "null" || trimmed == "" {
		return nil, nil
	}
	o := &unstructured.Unstructured{}
	if err := o.UnmarshalJSON(js); err != nil {
		return nil, err
	}
	if o.GetName() == "" {
		return nil, fmt.Errorf("%s has no metadata.name", o.GetKind())
	}
	return o, nil
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
