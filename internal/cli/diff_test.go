package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{differencesError{}, 1},
		{errors.New("connection refused"), 1},
		{refused("not paused"), 2},
		{&diffFailedError{errors.New("ProdSet shop not found")}, 2},
		{fmt.Errorf("wrapped: %w", &diffFailedError{errors.New("x")}), 2},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestReadCandidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", `apiVersion: drover.dev/v1alpha1
kind: ProdSet
metadata:
  name: shop
spec:
  template:
    spec:
      version: v2
      targetNamespace: shop
      manifests:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
`)
	tmpl, err := readCandidate(nil, good, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.Spec.Version != "v2" || len(tmpl.Spec.Manifests) != 1 {
		t.Errorf("read %+v", tmpl.Spec)
	}
	if _, err := readCandidate(strings.NewReader(string(mustRead(t, good))), "-", "shop"); err != nil {
		t.Errorf("reading standard input: %v", err)
	}
	for _, tt := range []struct{ name, body, set, want string }{
		{"other.yaml", strings.Replace(string(mustRead(t, good)), "name: shop", "name: cart", 1), "shop", `is ProdSet "cart", not "shop"`},
		{"kind.yaml", strings.Replace(string(mustRead(t, good)), "kind: ProdSet", "kind: Prod", 1), "shop", `holds a "Prod"`},
		{"typo.yaml", strings.Replace(string(mustRead(t, good)), "targetNamespace", "targetNamspace", 1), "shop", "not a ProdSet manifest"},
		{"empty.yaml", "apiVersion: drover.dev/v1alpha1\nkind: ProdSet\nmetadata: {name: shop}\n", "shop", "no spec.template.spec.manifests"},
	} {
		if _, err := readCandidate(nil, write(tt.name, tt.body), tt.set); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGenerateName(t *testing.T) {
	if got := generateName("shop"); got != "shop-diff-" {
		t.Errorf("generateName(shop) = %q", got)
	}
	long := strings.Repeat("a", 60)
	if got := generateName(long); len(got)+5 > 63 || !strings.HasSuffix(got, "-diff-") {
		t.Errorf("generateName of 60 characters = %q (%d), too long for a name of 63 with 5 random characters", got, len(got))
	}
}

func TestPrintDiff(t *testing.T) {
	d := &droverv1.ReleaseDiff{ObjectMeta: metav1.ObjectMeta{Namespace: "team"}, Spec: droverv1.ReleaseDiffSpec{ProdSet: "shop"},
		Status: droverv1.ReleaseDiffStatus{Revision: "abc", Changes: true, Truncated: true, Prods: []droverv1.ReleaseDiffProd{
			{Name: "shop-a", Cluster: "a", Revision: "old", Objects: []droverv1.ReleaseDiffObject{
				{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings", Action: droverv1.ReleaseDiffUpdate, Diff: "--- live/x\n+++ candidate/x\n-a\n+b\n"},
				{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "planted", Action: droverv1.ReleaseDiffRefused, Reason: "NotOwned", Message: "not drover's"},
				{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "title", Action: droverv1.ReleaseDiffUpdate, Diff: "-a: x\n+a: \x1b]0;owned\x07\n"},
			}},
			{Name: "shop-b", Cluster: "b", Message: "Cluster b cannot be reached"},
		}}}
	var out bytes.Buffer
	printDiff(&out, d)
	for _, want := range []string{
		"ProdSet team/shop, candidate revision abc\n",
		"=== Prod shop-a on cluster a (runs revision old)\n",
		"Update    v1 ConfigMap shop/settings\n--- live/x\n+++ candidate/x\n-a\n+b\n",
		"Refused   v1 ConfigMap shop/planted: NotOwned: not drover's\n",
		"=== Prod shop-b on cluster b (runs revision none)\nnot diffed: Cluster b cannot be reached\n",
		"some objects or diffs are left out",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "no differences") {
		t.Errorf("a diff with changes says no differences:\n%s", out.String())
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Errorf("the output has escape sequences (colour codes, or a tenant's)")
	}
}
