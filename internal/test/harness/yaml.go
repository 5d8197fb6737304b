package harness

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
)

// kustomizationFile is skipped by ReadYAMLDir: it configures kustomize and is no object.
const kustomizationFile = "kustomization.yaml"

// DecodeYAML decodes every document of a (multi-document) YAML stream into an object,
// in order. Empty documents (nothing, or only comments) are skipped. A document that is
// not a mapping, has no kind or apiVersion, or has no metadata.name is an error naming
// the document by its position (1-based, counting empty ones).
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		o, err := decodeDocument(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
}

// decodeDocument decodes one YAML document into an object; nil for an empty one.
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
	if o.GetAPIVersion() == "" {
		return nil, fmt.Errorf("%s has no apiVersion", o.GetKind())
	}
	if o.GetName() == "" {
		return nil, fmt.Errorf("%s has no metadata.name", o.GetKind())
	}
	return o, nil
}

// ReadYAMLFile decodes every non-empty document of the YAML file at path (see
// DecodeYAML); errors name the file.
func ReadYAMLFile(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := DecodeYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

// ReadYAMLDir decodes the *.yaml and *.yml files directly in dir, in file name order,
// skipping kustomization.yaml. It does not descend into subdirectories. A directory
// without objects gives none and no error.
func ReadYAMLDir(dir string) ([]*unstructured.Unstructured, error) {
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		matches, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, fmt.Errorf("listing %s in %s: %w", pattern, dir, err)
		}
		files = append(files, matches...)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err // Glob says nothing about a missing directory
	}
	sort.Strings(files)
	var objs []*unstructured.Unstructured
	for _, f := range files {
		if filepath.Base(f) == kustomizationFile {
			continue
		}
		docs, err := ReadYAMLFile(f)
		if err != nil {
			return nil, err
		}
		objs = append(objs, docs...)
	}
	return objs, nil
}

// Apply server-side applies each of objs in turn as fieldManager, taking over fields
// another manager owns (as kubectl apply --server-side --force-conflicts does). It
// stops at the first error, which names the object. objs are left as they are (the
// client would otherwise replace them by the API server's answer), so the same objects
// can be applied again.
func Apply(ctx context.Context, c client.Client, fieldManager string, objs ...*unstructured.Unstructured) error {
	for _, o := range objs {
		ac := client.ApplyConfigurationFromUnstructured(o.DeepCopy())
		if err := c.Apply(ctx, ac, client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s: %w", o.GetKind(), client.ObjectKeyFromObject(o), err)
		}
	}
	return nil
}
