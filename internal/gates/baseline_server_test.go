package gates_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/gates"
	"github.com/drover-dev/drover/internal/test/clouds/prometheustest"
)

// TestBaselineGateAgainstPrometheus judges canaries against a baseline through a real
// Prometheus scraping an exporter whose values move: a canary better than the baseline,
// equal to it, worse, worse within the tolerated ratio, silent (no series) and NaN.
func TestBaselineGateAgainstPrometheus(t *testing.T) {
	exp := prometheustest.NewExporter(t)
	prom := prometheustest.Start(t, prometheustest.Options{ScrapeTargets: []string{exp.Addr()}})

	// Every 200ms the baseline's error ratio moves around 0.02; each canary follows it as
	// its scenario says. "equal" holds exactly the baseline's values.
	scale := map[string]float64{"better": 0.25, "equal": 1, "worse": 3, "slightly": 1.2, "nan": math.NaN()}
	set := func(rng *rand.Rand) {
		for _, b := range []string{"base-1", "base-2"} {
			v := 0.02 * (0.9 + 0.2*rng.Float64())
			exp.Set("shop_error_ratio", map[string]string{"prod": b}, v)
			for name, k := range scale {
				exp.Set("shop_error_ratio", map[string]string{"prod": name + strings.TrimPrefix(b, "base")}, v*k)
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	set(rng)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
			set(rng)
		}
	}()
	prom.WaitForQuery(t, `shop_error_ratio{prod="worse-2"}`, 30*time.Second)

	done := make(chan types.NamespacedName, 16)
	r := &gates.Runner{Prometheus: gates.PrometheusQuerier{Address: prom.URL()}, Done: func(o types.NamespacedName) { done <- o }}
	go func() { _ = r.Start(ctx) }()

	gate := func(onInconclusive droverv1.InconclusivePolicy, maxRatio string) droverv1.Gate {
		return droverv1.Gate{Baseline: &droverv1.BaselineGate{
			Metrics: []droverv1.BaselineMetric{{Name: "errors", Query: `shop_error_ratio{prod="{{ .Prod }}"}`, MaxRatio: maxRatio}},
			Window:  &metav1.Duration{Duration: 5 * time.Second}, Interval: &metav1.Duration{Duration: 250 * time.Millisecond},
			OnInconclusive: onInconclusive,
		}}
	}
	baseline := []gates.Target{{Prod: "base-1"}, {Prod: "base-2"}}
	canary := func(name string) []gates.Target { return []gates.Target{{Prod: name + "-1"}, {Prod: name + "-2"}} }
	cases := []struct {
		canary         string
		gate           droverv1.Gate
		passed, inconc bool
		pause          bool
		attempts       int32
		metricVerdict  string
		message        string
	}{
		{canary: "better", gate: gate("", ""), passed: true, attempts: 1, metricVerdict: "Pass", message: "not significantly worse"},
		{canary: "equal", gate: gate("", ""), passed: true, attempts: 1, metricVerdict: "Pass", message: "not significantly worse"},
		{canary: "worse", gate: gate("", ""), attempts: 1, metricVerdict: "Fail", message: "significantly worse"},
		{canary: "worse", gate: gate("", "2"), attempts: 1, metricVerdict: "Fail", message: "beyond the tolerated ratio 2"},
		{canary: "slightly", gate: gate("", "1.5"), passed: true, attempts: 1, metricVerdict: "Pass", message: "errors Pass"},
		{canary: "silent", gate: gate("", ""), inconc: true, attempts: 1, metricVerdict: "Inconclusive", message: "canary 0, baseline"},
		{canary: "nan", gate: gate("", ""), inconc: true, attempts: 1, metricVerdict: "Inconclusive", message: "NaN or infinite values left out"},
		{canary: "silent", gate: gate(droverv1.InconclusivePause, ""), inconc: true, pause: true, attempts: 1, metricVerdict: "Inconclusive", message: "Inconclusive"},
		{canary: "silent", gate: gate(droverv1.InconclusiveRetry, ""), inconc: true, attempts: 3, metricVerdict: "Inconclusive", message: "Inconclusive"},
	}
	jobs := make([]gates.Job, len(cases))
	for i, tc := range cases {
		jobs[i] = gates.Job{Owner: types.NamespacedName{Namespace: "shop", Name: tc.canary}, Key: string(rune('a' + i)),
			Gate: tc.gate, Targets: canary(tc.canary), Baseline: baseline}
		r.Get(jobs[i])
	}
	deadline := time.After(2 * time.Minute)
	for left := len(cases); left > 0; left-- {
		select {
		case <-done:
		case <-deadline:
			t.Fatalf("%d judgements still running", left)
		}
	}
	for i, tc := range cases {
		v := r.Get(jobs[i])
		t.Logf("%s (%s): %s", tc.canary, tc.gate.Baseline.OnInconclusive, v.Message)
		if !v.Done || v.Passed != tc.passed || v.Inconclusive != tc.inconc || v.Pause != tc.pause || !strings.Contains(v.Message, tc.message) {
			t.Errorf("%s: done %v passed %v inconclusive %v pause %v, want passed %v inconclusive %v pause %v with %q",
				tc.canary, v.Done, v.Passed, v.Inconclusive, v.Pause, tc.passed, tc.inconc, tc.pause, tc.message)
			continue
		}
		j := v.Baseline
		if j == nil || len(j.Metrics) != 1 || j.Metrics[0].Verdict != tc.metricVerdict || j.Attempts != tc.attempts ||
			strings.Join(j.Canary, ",") != tc.canary+"-1,"+tc.canary+"-2" || strings.Join(j.Baseline, ",") != "base-1,base-2" {
			t.Errorf("%s: judgement %+v, want metric %s after %d attempts", tc.canary, j, tc.metricVerdict, tc.attempts)
			continue
		}
		m := j.Metrics[0]
		if tc.canary != "silent" && tc.canary != "nan" && (m.CanarySamples < 20 || m.BaselineSamples < 20 || m.PValue == "" || m.BaselineMean == "") {
			t.Errorf("%s: the numbers behind the verdict are missing: %+v", tc.canary, m)
		}
	}
}
