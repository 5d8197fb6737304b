package rollout

import (
	"errors"
	"strings"
	"testing"
	"text/template"

	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestResolve(t *testing.T) {
	errorRatio := &droverv1.AnalysisTemplateSpec{
		Args: []droverv1.AnalysisArg{{Name: "service"}, {Name: "max", Value: ptr.To("0.01")}},
		Gate: droverv1.Gate{Prometheus: &droverv1.PrometheusGate{
			Query:     `sum(rate(errors{service="{{ .Args.service }}",prod="{{ .Prod }}"}[5m]))`,
			Threshold: "{{ .Args.max }}", Comparison: "<",
		}},
	}
	health := &droverv1.AnalysisTemplateSpec{
		Args: []droverv1.AnalysisArg{{Name: "path"}},
		Gate: droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host }}{{.Args.path}}"}},
	}
	judged := &droverv1.AnalysisTemplateSpec{
		Args: []droverv1.AnalysisArg{{Name: "job"}},
		Gate: droverv1.Gate{Baseline: &droverv1.BaselineGate{Metrics: []droverv1.BaselineMetric{
			{Name: "errors", Query: `errors{job="{{ .Args.job }}",prod="{{ .Prod }}"}`}}}},
	}
	lookup := func(name string, cluster bool) (*droverv1.AnalysisTemplateSpec, bool, error) {
		switch {
		case name == "error-ratio" && !cluster:
			return errorRatio, true, nil
		case name == "health" && cluster:
			return health, true, nil
		case name == "judged" && !cluster:
			return judged, true, nil
		case name == "unreadable":
			return nil, false, errors.New("connection refused")
		case name == "bad-args":
			return &droverv1.AnalysisTemplateSpec{Gate: droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host }}/{{ if .Args.x }}x{{ end }}"}}}, true, nil
		}
		return nil, false, nil
	}
	policy := func(gates ...droverv1.Gate) droverv1.RolloutPolicySpec {
		return droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{{Name: "canary", Gates: gates}}}
	}
	ref := func(name string, cluster bool, args ...string) droverv1.Gate {
		g := &droverv1.TemplateGate{Name: name, Cluster: cluster}
		for i := 0; i+1 < len(args); i += 2 {
			g.Args = append(g.Args, droverv1.TemplateArg{Name: args[i], Value: args[i+1]})
		}
		return droverv1.Gate{Template: g}
	}

	t.Run("arguments and defaults", func(t *testing.T) {
		in := policy(ref("error-ratio", false, "service", "checkout"), ref("health", true, "path", "/healthz"), ref("judged", false, "job", `a"b{{ .Prod }}`))
		out, err := Resolve(in, lookup)
		if err != nil {
			t.Fatal(err)
		}
		if in.Steps[0].Gates[0].Template == nil {
			t.Fatal("Resolve changed its input")
		}
		p := out.Steps[0].Gates[0].Prometheus
		if p == nil || p.Query != `sum(rate(errors{service="{{ "checkout" }}",prod="{{ .Prod }}"}[5m]))` || p.Threshold != "0.01" {
			t.Fatalf("prometheus gate %+v", p)
		}
		if h := out.Steps[0].Gates[1].HTTPCheck; h == nil || h.URL != `http://{{ .Host }}{{ "/healthz" }}` {
			t.Fatalf("httpCheck %+v", h)
		}
		// A value is printed as written, never run: its own {{ .Prod }} stays text.
		if q := out.Steps[0].Gates[2].Baseline.Metrics[0].Query; q != `errors{job="{{ "a\"b{{ .Prod }}" }}",prod="{{ .Prod }}"}` {
			t.Fatalf("baseline query %s", q)
		}
		if err := Validate(out, "http://prometheus:9090"); err != nil {
			t.Fatalf("the resolved policy is invalid: %v", err)
		}
		if err := Validate(in, "http://prometheus:9090"); err == nil || !strings.Contains(err.Error(), "not resolved") {
			t.Fatalf("an unresolved template gate passes Validate: %v", err)
		}
	})

	for _, tc := range []struct {
		name string
		gate droverv1.Gate
		want string
	}{
		{"missing template", ref("nope", false), `spec.steps[0] (canary).gates[0].template: AnalysisTemplate "nope" not found`},
		{"a namespaced name is not a cluster template", ref("error-ratio", true, "service", "x"), `ClusterAnalysisTemplate "error-ratio" not found`},
		{"missing argument", ref("error-ratio", false), `argument "service" of AnalysisTemplate "error-ratio" is not given and has no default`},
		{"unknown argument", ref("health", true, "path", "/", "port", "80"), `argument "port" is not one ClusterAnalysisTemplate "health" declares`},
		{"every argument given", ref("judged", false, "job", "x"), ``},
		{"another use of .Args", ref("bad-args", false), "only {{ .Args.<name> }} is replaced by an argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Resolve(policy(tc.gate), lookup)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
			if errors.Is(err, ErrLookup) {
				t.Fatalf("%v is not a failed lookup", err)
			}
		})
	}

	t.Run("undeclared argument in the template", func(t *testing.T) {
		undeclared := func(string, bool) (*droverv1.AnalysisTemplateSpec, bool, error) {
			return &droverv1.AnalysisTemplateSpec{Gate: droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host }}/{{ .Args.path }}"}}}, true, nil
		}
		_, err := Resolve(policy(ref("t", false)), undeclared)
		if err == nil || !strings.Contains(err.Error(), `httpCheck.url uses {{ .Args.path }}, which AnalysisTemplate "t" does not declare`) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("a lookup that fails is retried, not invalid", func(t *testing.T) {
		_, err := Resolve(policy(ref("unreadable", false)), lookup)
		if !errors.Is(err, ErrLookup) {
			t.Fatalf("got %v, want ErrLookup", err)
		}
	})

	t.Run("inline gates cannot use arguments", func(t *testing.T) {
		inline := policy(droverv1.Gate{Prometheus: &droverv1.PrometheusGate{Query: `up{job="{{ .Args.job }}"}`, Comparison: "<", Threshold: "{{ .Args.max }}"}})
		err := Validate(inline, "http://p")
		if err == nil || !strings.Contains(err.Error(), "prometheus.query: {{ .Args.<name> }} is replaced only in an analysis template's gate") ||
			!strings.Contains(err.Error(), "prometheus.threshold: {{ .Args.<name> }} is replaced only") {
			t.Fatalf("got %v", err)
		}
	})
}

// Whatever an argument's value, the resolved url parses and prints it exactly as given:
// a value is never run as a template.
func FuzzResolveArgumentValue(f *testing.F) {
	for _, seed := range []string{"checkout", `a"b`, "{{ .Prod }}", "}}{{", "\\x00\n", "{{/* c */}}", "`raw`"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		tmpl := &droverv1.AnalysisTemplateSpec{Args: []droverv1.AnalysisArg{{Name: "a"}},
			Gate: droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://h/{{ .Args.a }}/{{ .Prod }}"}}}
		lookup := func(string, bool) (*droverv1.AnalysisTemplateSpec, bool, error) { return tmpl, true, nil }
		out, err := Resolve(droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{{Name: "s", Gates: []droverv1.Gate{
			{Template: &droverv1.TemplateGate{Name: "t", Args: []droverv1.TemplateArg{{Name: "a", Value: value}}}}}}}}, lookup)
		if err != nil {
			t.Fatal(err)
		}
		u := out.Steps[0].Gates[0].HTTPCheck.URL
		parsed, err := template.New("u").Option("missingkey=error").Parse(u)
		if err != nil {
			t.Fatalf("%q does not parse: %v", u, err)
		}
		var b strings.Builder
		if err := parsed.Execute(&b, struct{ Prod string }{Prod: "p"}); err != nil {
			t.Fatal(err)
		}
		if want := "http://h/" + value + "/p"; b.String() != want {
			t.Fatalf("rendered %q, want %q", b.String(), want)
		}
	})
}

// Prepare resolves, then validates: a lookup that fails stays ErrLookup (judged again
// later), a template that resolves to an invalid gate is invalid, a good one passes.
func TestPrepare(t *testing.T) {
	spec := droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{{Name: "canary", Gates: []droverv1.Gate{{Template: &droverv1.TemplateGate{Name: "t"}}}}}}
	failing := func(string, bool) (*droverv1.AnalysisTemplateSpec, bool, error) {
		return nil, false, errors.New("connection refused")
	}
	if _, err := Prepare(spec, failing, ""); !errors.Is(err, ErrLookup) {
		t.Errorf("Prepare with a failing lookup = %v, want ErrLookup", err)
	}
	noServer := func(string, bool) (*droverv1.AnalysisTemplateSpec, bool, error) {
		return &droverv1.AnalysisTemplateSpec{Gate: droverv1.Gate{Prometheus: &droverv1.PrometheusGate{Query: "up", Threshold: "1"}}}, true, nil
	}
	if _, err := Prepare(spec, noServer, ""); err == nil || errors.Is(err, ErrLookup) {
		t.Errorf("Prepare of a Prometheus gate without a server = %v, want it invalid", err)
	}
	got, err := Prepare(spec, noServer, "http://prometheus:9090")
	if err != nil || got.Steps[0].Gates[0].Prometheus == nil {
		t.Errorf("Prepare = %+v, %v; want the template's gate in place", got.Steps[0].Gates, err)
	}
}
