package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/drover-dev/drover/api/v1alpha1"
)

func TestParseMarker(t *testing.T) {
	for line, want := range map[string]marker{
		"+optional":                             {name: "optional"},
		"+kubebuilder:default=/healthz":         {name: "kubebuilder:default", value: "/healthz"},
		"+kubebuilder:validation:Pattern=`^/`":  {name: "kubebuilder:validation:Pattern", value: "`^/`"},
		`+kubebuilder:validation:Enum="<";">="`: {name: "kubebuilder:validation:Enum", value: `"<";">="`},
		`+kubebuilder:validation:XValidation:rule="self == oldSelf",message="immutable"`: {
			name: "kubebuilder:validation:XValidation", value: `rule="self == oldSelf",message="immutable"`},
		`+kubebuilder:validation:items:XValidation:rule="has(self.a)"`: {
			name: "kubebuilder:validation:items:XValidation", value: `rule="has(self.a)"`},
		"+kubebuilder:resource:categories=drover,shortName=cm;maint": {
			name: "kubebuilder:resource", value: "categories=drover,shortName=cm;maint"},
	} {
		got, ok := parseMarker(line)
		if !ok || got != want {
			t.Errorf("parseMarker(%q) = %+v, %v; want %+v", line, got, ok, want)
		}
	}
	if _, ok := parseMarker("a sentence with a + in it"); ok {
		t.Error("a line not starting with + is not a marker")
	}
}

func TestParseArgs(t *testing.T) {
	for in, want := range map[string]map[string]string{
		`rule="self.a == 'x, y'",message="a, b"`: {"rule": "self.a == 'x, y'", "message": "a, b"},
		`rule="k.matches('^a\\\\.b$')"`:          {"rule": `k.matches('^a\\.b$')`},
		"categories=drover,shortName=cm;maint":   {"categories": "drover", "shortName": "cm;maint"},
		"name=\"Age\",type=date,JSONPath=`.a[?(@.b==\"c\")]`,priority=1": {
			"name": "Age", "type": "date", "JSONPath": `.a[?(@.b=="c")]`, "priority": "1"},
	} {
		got, err := parseArgs(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseArgs(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseArgs(`rule="unterminated`); err == nil {
		t.Error("an unterminated string is an error")
	}
}

func TestMarkdownEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"a <b> c `<d>`":         "a &lt;b&gt; c `<d>`",
		"one\nparagraph\n\ntwo": "one paragraph<br><br>two",
	} {
		if got := text(in); got != want {
			t.Errorf("text(%q) = %q; want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"a":    "`a`",
		"a`b":  "`` a`b ``",
		"`a":   "`` `a ``",
		"":     "",
		"x|y)": "`x|y)`",
	} {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q; want %q", in, got, want)
		}
	}
	if got := cell("`a|b`"); got != "`a\\|b`" {
		t.Errorf("cell escapes | even in code spans: got %q", got)
	}
}

// TestReferenceCoversTheAPI checks the reference of api/v1alpha1 against the API as
// Go's reflection and the CRDs controller-gen generated see it: every kind in the
// scheme has a section, every JSON field of every type it reaches a row in its type's
// section, and every default in the CRDs' schemas shows in that row.
func TestReferenceCoversTheAPI(t *testing.T) {
	a, err := load("../../api/v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	sections := splitSections(render(a, "api/v1alpha1"))

	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	crds := loadCRDs(t, "../../config/crd/bases")
	kinds := 0
	for kind, typ := range scheme.KnownTypes(v1alpha1.GroupVersion) {
		if strings.HasSuffix(kind, "List") || typ.PkgPath() != reflect.TypeFor[v1alpha1.Prod]().PkgPath() {
			continue
		}
		kinds++
		crd, ok := crds[kind]
		if !ok {
			t.Errorf("no CRD for kind %s", kind)
			continue
		}
		w := walker{t: t, sections: sections, seen: map[reflect.Type]bool{}}
		w.check(typ, crd.Spec.Versions[0].Schema.OpenAPIV3Schema, kind)
	}
	if kinds != 12 {
		t.Errorf("found %d kinds in the scheme; the test expects Prod, ProdSet, RolloutPolicy, AnalysisTemplate, ClusterAnalysisTemplate, Freeze, ClusterFreeze, ClusterMaintenance, Tenant, Release, Notifier and ReleaseDiff", kinds)
	}
}

type walker struct {
	t        *testing.T
	sections map[string]string
	seen     map[reflect.Type]bool
}

// check checks the rows of struct type typ against schema, then the types its fields reach.
func (w walker) check(typ reflect.Type, schema *apiextensionsv1.JSONSchemaProps, path string) {
	section, ok := w.sections[typ.Name()]
	if !ok {
		w.t.Errorf("%s: no section for type %s", path, typ.Name())
		return
	}
	for _, f := range jsonFields(typ) {
		name := f.Tag.Get("json")
		name, _, _ = strings.Cut(name, ",")
		if name == "" {
			name = f.Name
		}
		row := findRow(section, name)
		if row == nil {
			w.t.Errorf("%s.%s: no row in the section of %s", path, name, typ.Name())
			continue
		}
		prop, ok := schema.Properties[name]
		if !ok || f.Type == nil {
			continue // apiVersion and kind (from TypeMeta) have no Go field of their own
		}
		if prop.Default != nil {
			var v any
			if err := json.Unmarshal(prop.Default.Raw, &v); err != nil {
				w.t.Fatal(err)
			}
			var want string
			if s, ok := v.(string); ok {
				want = "`" + s + "`"
			} else {
				want = "`" + string(prop.Default.Raw) + "`"
			}
			if row[3] != want {
				w.t.Errorf("%s.%s: default column %q; the CRD's default is %s", path, name, row[3], want)
			}
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
			ft = ft.Elem()
			if prop.Items != nil && prop.Items.Schema != nil {
				prop = *prop.Items.Schema
			}
		}
		if ft.Kind() == reflect.Struct && ft.PkgPath() == typ.PkgPath() && !w.seen[ft] {
			w.seen[ft] = true
			w.check(ft, &prop, path+"."+name)
		}
	}
}

// jsonFields lists typ's fields as JSON sees them: embedded structs without a JSON name
// contribute their own fields.
func jsonFields(typ reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case f.Anonymous && name == "" && f.Type.Name() == "TypeMeta":
			out = append(out, reflect.StructField{Name: "apiVersion"}, reflect.StructField{Name: "kind"})
		case f.Anonymous && name == "":
			out = append(out, jsonFields(f.Type)...)
		default:
			out = append(out, f)
		}
	}
	return out
}

var heading = regexp.MustCompile(`(?m)^#{2,3} (\S+)$`)

// splitSections maps each ## or ### heading of md to the text under it.
func splitSections(md string) map[string]string {
	out := map[string]string{}
	locs := heading.FindAllStringSubmatchIndex(md, -1)
	for i, loc := range locs {
		end := len(md)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out[md[loc[2]:loc[3]]] = md[loc[1]:end]
	}
	return out
}

// findRow returns the cells of the field table row of field name in section.
func findRow(section, name string) []string {
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `"+name+"` |") {
			continue
		}
		var cells []string
		start := 0
		for i := 1; i < len(line); i++ {
			if line[i] == '|' && line[i-1] != '\\' {
				cells = append(cells, strings.TrimSpace(line[start+1:i]))
				start = i
			}
		}
		return cells
	}
	return nil
}

func loadCRDs(t *testing.T, dir string) map[string]apiextensionsv1.CustomResourceDefinition {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in %s: %v", dir, err)
	}
	out := map[string]apiextensionsv1.CustomResourceDefinition{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[crd.Spec.Names.Kind] = crd
	}
	return out
}
