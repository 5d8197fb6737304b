package rollout

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestValidate(t *testing.T) {
	gate := func(g droverv1.Gate) droverv1.RolloutPolicySpec {
		return droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{{Name: "one", Gates: []droverv1.Gate{g}}}}
	}
	prom := func(address, query, threshold string) droverv1.Gate {
		return droverv1.Gate{Prometheus: &droverv1.PrometheusGate{Address: address, Query: query, Comparison: "<", Threshold: threshold}}
	}
	baseline := func(edit func(*droverv1.BaselineGate)) droverv1.Gate {
		g := &droverv1.BaselineGate{Metrics: []droverv1.BaselineMetric{{Name: "errors", Query: `errors{prod="{{ .Prod }}"}`}}}
		if edit != nil {
			edit(g)
		}
		return droverv1.Gate{Baseline: g}
	}
	for _, tc := range []struct {
		name, defaultProm string
		spec              droverv1.RolloutPolicySpec
		want              string // "" for valid
	}{
		{name: "valid", spec: gate(droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host }}/healthz"}})},
		{name: "broken URL template", spec: gate(droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host /healthz"}}),
			want: "spec.steps[0] (one).gates[0].httpCheck.url"},
		{name: "broken query template", spec: gate(prom("http://p", `up{prod="{{ .Prod }"}`, "1")), want: "prometheus.query"},
		{name: "no Prometheus anywhere", spec: gate(prom("", "up", "1")), want: "no --prometheus-address"},
		{name: "the manager's Prometheus", defaultProm: "http://p:9090", spec: gate(prom("", "up", "1"))},
		{name: "valid baseline", defaultProm: "http://p:9090", spec: gate(baseline(func(g *droverv1.BaselineGate) { g.Confidence = "0.99" }))},
		{name: "baseline without Prometheus", spec: gate(baseline(nil)), want: "spec.steps[0] (one).gates[0].baseline.address: not set"},
		{name: "baseline broken query", defaultProm: "http://p", spec: gate(baseline(func(g *droverv1.BaselineGate) { g.Metrics[0].Query = "{{ .Prod" })),
			want: "baseline.metrics[0] (errors).query"},
		{name: "baseline confidence 1", defaultProm: "http://p", spec: gate(baseline(func(g *droverv1.BaselineGate) { g.Confidence = "1" })),
			want: "baseline.confidence"},
		{name: "baseline ratio under 1", defaultProm: "http://p", spec: gate(baseline(func(g *droverv1.BaselineGate) { g.Metrics[0].MaxRatio = "0.9" })),
			want: "baseline.metrics[0] (errors).maxRatio"},
		{name: "baseline negative difference", defaultProm: "http://p", spec: gate(baseline(func(g *droverv1.BaselineGate) { g.Metrics[0].MaxDifference = "-1" })),
			want: "maxDifference"},
		{name: "baseline metric named twice", defaultProm: "http://p", spec: gate(baseline(func(g *droverv1.BaselineGate) { g.Metrics = append(g.Metrics, g.Metrics[0]) })),
			want: "used twice"},
		{name: "baseline interval beyond its window", defaultProm: "http://p", spec: gate(baseline(func(g *droverv1.BaselineGate) {
			g.Window, g.Interval = &metav1.Duration{Duration: 10 * time.Second}, &metav1.Duration{Duration: time.Minute}
		})), want: "longer than the window"},
		{name: "selector", spec: droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{{Name: "s", Selector: &droverv1.LabelSelector{
			MatchExpressions: []droverv1.LabelSelectorRequirement{{Key: "a", Operator: "In"}}}}}}, want: "selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.spec, tc.defaultProm)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
}
