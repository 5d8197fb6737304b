package releasediff

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// What a diff shows of an object, and how much of it.
const (
	// MaxDiffBytes bounds one object's diff; a longer one is cut at a line end.
	MaxDiffBytes = 8 << 10
	// maxDiffLines bounds the lines of one side that are compared line by line; an
	// object longer than that is shown as removed and added whole (the diff is then cut).
	maxDiffLines = 4000

	// Redaction markers of a Secret's values (data and stringData): a value the same on
	// both sides, a value that differs (each side shows which it is), a value on one side.
	unchangedValue = "<unchanged>"
	changedBefore  = "<changed: old value>"
	changedAfter   = "<changed: new value>"
	changedValue   = "<changed>"
	// lastApplied is kubectl's copy of what it applied, which holds a Secret's values.
	lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
)

// shown returns a copy of o as a diff shows it: without the fields the API server
// sets (managedFields, resourceVersion, generation, uid, creationTimestamp and status),
// nil for a nil o.
func shown(o *unstructured.Unstructured) *unstructured.Unstructured {
	if o == nil {
		return nil
	}
	c := o.DeepCopy()
	for _, f := range [][]string{
		{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "generation"},
		{"metadata", "uid"}, {"metadata", "creationTimestamp"}, {"status"},
	} {
		unstructured.RemoveNestedField(c.Object, f...)
	}
	return c
}

// isSecret says whether o is a core Secret.
func isSecret(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret"
}

// redact hides the values of Secrets before and after (either may be nil): each value of
// data and stringData becomes <unchanged> on both sides when it is the same, <changed:
// old value> and <changed: new value> when it differs, and <changed> when only one side
// has it. stringData is compared with stringData only: the API server folds it into data,
// so a dry-run result holds data alone. kubectl's last-applied annotation, which holds
// the values too, is redacted as a whole. Objects of other kinds are left as they are.
func redact(before, after *unstructured.Unstructured) {
	var secrets []*unstructured.Unstructured
	for _, o := range []*unstructured.Unstructured{before, after} {
		if o != nil && isSecret(o) {
			secrets = append(secrets, o)
		}
	}
	if len(secrets) == 0 {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		b, a := valuesOf(before, field), valuesOf(after, field)
		for k, v := range b {
			switch w, ok := a[k]; {
			case !ok:
				b[k] = changedValue
			case reflect.DeepEqual(v, w):
				b[k], a[k] = unchangedValue, unchangedValue
			default:
				b[k], a[k] = changedBefore, changedAfter
			}
		}
		for k := range a {
			if _, ok := b[k]; !ok {
				a[k] = changedValue
			}
		}
	}
	for _, o := range secrets {
		if ann := o.GetAnnotations(); ann[lastApplied] != "" {
			ann[lastApplied] = "<redacted>"
			o.SetAnnotations(ann)
		}
	}
}

// valuesOf returns o's map field (data, stringData) to change in place, nil when o is nil
// or not a Secret (an empty map when the Secret has none: a write to it is dropped).
func valuesOf(o *unstructured.Unstructured, field string) map[string]any {
	if o == nil || !isSecret(o) {
		return map[string]any{}
	}
	m, ok := o.Object[field].(map[string]any)
	if !ok {
		return map[string]any{}
	}
	return m
}

// toYAML is o as YAML, "" for nil.
func toYAML(o *unstructured.Unstructured) (string, error) {
	if o == nil {
		return "", nil
	}
	b, err := yaml.Marshal(o.Object)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Diff is the unified diff of an object live (nil: it does not exist) and as the
// candidate would leave it (nil: it would be deleted), both first stripped of what the
// API server sets (shown) and Secrets redacted. changed says whether the two differ;
// the diff is cut at MaxDiffBytes (truncated).
func Diff(name string, live, candidate *unstructured.Unstructured) (diff string, changed, truncated bool, err error) {
	before, after := shown(live), shown(candidate)
	redact(before, after)
	a, err := toYAML(before)
	if err != nil {
		return "", false, false, err
	}
	b, err := toYAML(after)
	if err != nil {
		return "", false, false, err
	}
	if a == b {
		return "", false, false, nil
	}
	diff, truncated = unified(name, a, b)
	return diff, true, truncated, nil
}

// unified is the unified diff (three lines of context) of a and b, with the file names
// "live/<name>" and "candidate/<name>", cut at MaxDiffBytes.
func unified(name, a, b string) (string, bool) {
	al, bl := difflib.SplitLines(a), difflib.SplitLines(b)
	if a == "" {
		al = nil
	}
	if b == "" {
		bl = nil
	}
	var out string
	if len(al) > maxDiffLines || len(bl) > maxDiffLines {
		// Too long to compare line by line within a reconcile: all of a goes, all of b
		// comes (the cut below keeps the start of it).
		var sb strings.Builder
		fmt.Fprintf(&sb, "--- live/%s\n+++ candidate/%s\n@@ -1,%d +1,%d @@\n", name, name, len(al), len(bl))
		for _, l := range al {
			sb.WriteString("-" + l)
		}
		for _, l := range bl {
			sb.WriteString("+" + l)
		}
		out = sb.String()
	} else {
		out, _ = difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: al, B: bl, FromFile: "live/" + name, ToFile: "candidate/" + name, Context: 3,
		})
	}
	return cut(out, MaxDiffBytes)
}

// cut shortens s to at most limit bytes, at the end of a line, and says whether it did.
func cut(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	s = s[:limit]
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i+1]
	}
	return s, true
}
