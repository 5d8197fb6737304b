// Command crdmeta completes the schemas controller-gen writes for embedded Kubernetes
// objects (fields of type runtime.RawExtension marked XEmbeddedResource, such as a
// Prod's spec.manifests): to every x-kubernetes-embedded-resource schema that declares
// no properties it adds apiVersion, kind and metadata with name, generateName and
// namespace.
//
// Without them a CEL rule can read only metadata.name and metadata.generateName of an
// embedded object (the API server adds just those), and controller-gen has no marker
// that declares properties on a RawExtension. drover's rule that a manifest may not
// name a namespace other than spec.targetNamespace needs metadata.namespace. The
// API server does not prune an embedded object's apiVersion, kind and metadata by this
// schema, so adding them changes what CEL sees, nothing else.
//
// Usage: go run ./hack/crdmeta DIR... (make manifests runs it on config/crd/bases).
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crdmeta DIR...")
		os.Exit(2)
	}
	for _, dir := range os.Args[1:] {
		if err := patchDir(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crdmeta:", err)
			os.Exit(1)
		}
	}
}

func patchDir(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := patchFile(f); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

const docStart = "---\n"

func patchFile(path string) error {
	in, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd map[string]any
	if err := yaml.Unmarshal(in, &crd); err != nil {
		return err
	}
	if crd["kind"] != "CustomResourceDefinition" || !addEmbeddedMeta(crd) {
		return nil
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(in, []byte(docStart)) {
		out = append([]byte(docStart), out...)
	}
	return os.WriteFile(path, out, 0o644)
}

// addEmbeddedMeta adds the properties to every embedded-resource schema under v that has
// none, and reports whether it changed anything.
func addEmbeddedMeta(v any) bool {
	changed := false
	switch v := v.(type) {
	case map[string]any:
		if v["x-kubernetes-embedded-resource"] == true && v["properties"] == nil {
			v["properties"] = embeddedProperties()
			changed = true
		}
		for _, child := range v {
			changed = addEmbeddedMeta(child) || changed
		}
	case []any:
		for _, child := range v {
			changed = addEmbeddedMeta(child) || changed
		}
	}
	return changed
}

func embeddedProperties() map[string]any {
	str := func(maxLength int) map[string]any {
		return map[string]any{"type": "string", "maxLength": maxLength}
	}
	return map[string]any{
		"apiVersion": map[string]any{"type": "string"},
		"kind":       map[string]any{"type": "string"},
		"metadata": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"name":         str(253),
				"generateName": str(253),
				"namespace":    str(63),
			},
		},
	}
}
