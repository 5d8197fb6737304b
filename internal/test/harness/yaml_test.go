package harness_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-dev/drover/internal/test/harness"
)

func TestDecodeYAML(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    []string // kind/namespace/name of each object, in order
		wantErr string   // a part of the error; "" for none
	}{
		{
			name: "one document",
			yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: ns\n",
			want: []string{"ConfigMap/ns/a"},
		},
		{
			name: "several documents, in order",
			yaml: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n---\n" +
				"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: ns\n---\n" +
				"apiVersion: drover.dev/v1alpha1\nkind: Prod\nmetadata:\n  name: p\n  namespace: ns\n",
			want: []string{"Namespace//ns", "ConfigMap/ns/a", "Prod/ns/p"},
		},
		{
			name: "empty documents and comments are skipped",
			yaml: "---\n# only a comment\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\n",
			want: []string{"ConfigMap//a"},
		},
		{
			name: "nothing at all",
			yaml: "",
		},
		{
			name: "only comments",
			yaml: "# nothing here\n",
		},
		{
			name:    "a document without a name",
			yaml:    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  namespace: ns\n",
			wantErr: "document 2: Secret has no metadata.name",
		},
		{
			name:    "a document without a kind",
			yaml:    "apiVersion: v1\nmetadata:\n  name: a\n",
			wantErr: "document 1: Object 'Kind' is missing",
		},
		{
			name:    "a document without an apiVersion",
			yaml:    "kind: ConfigMap\nmetadata:\n  name: a\n",
			wantErr: "document 1: ConfigMap has no apiVersion",
		},
		{
			name:    "a document that is not a mapping",
			yaml:    "- apiVersion: v1\n  kind: ConfigMap\n",
			wantErr: "document 1: ",
		},
		{
			name:    "invalid YAML",
			yaml:    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n",
			wantErr: "document 1: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := harness.DecodeYAML([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeYAML() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeYAML() error = %v", err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("DecodeYAML() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadYAMLDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cm := func(name string) string { return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" }
	write("b.yaml", cm("b1")+"---\n"+cm("b2"))
	write("a.yml", cm("a"))
	write("kustomization.yaml", "resources:\n- a.yml\n")
	write("notes.txt", "not YAML: [")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join("sub", "c.yaml"), cm("c"))

	objs, err := harness.ReadYAMLDir(dir)
	if err != nil {
		t.Fatalf("ReadYAMLDir() error = %v", err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetName())
	}
	if want := "a b1 b2"; strings.Join(got, " ") != want {
		t.Errorf("ReadYAMLDir() = %v, want %s (file name order, no kustomization.yaml, no subdirectory)", got, want)
	}

	write("z.yaml", "kind: ConfigMap\napiVersion: v1\n")
	if _, err := harness.ReadYAMLDir(dir); err == nil || !strings.Contains(err.Error(), "z.yaml: document 1: ConfigMap has no metadata.name") {
		t.Errorf("ReadYAMLDir() with a nameless object: error = %v, want one naming z.yaml and the document", err)
	}
	if _, err := harness.ReadYAMLDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadYAMLDir() of a missing directory: no error")
	}
}
