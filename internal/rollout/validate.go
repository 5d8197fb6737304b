package rollout

import (
	"errors"
	"fmt"
	"strconv"
	"text/template"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Validate checks what the CRD's schema and CEL rules cannot: that the gates' templates
// parse, that selectors convert, that thresholds are numbers, and that every Prometheus
// gate has a server to ask. defaultPrometheus is the manager's --prometheus-address.
func Validate(spec droverv1.RolloutPolicySpec, defaultPrometheus string) error {
	var errs []error
	for i, step := range spec.Steps {
		at := fmt.Sprintf("spec.steps[%d] (%s)", i, step.Name)
		if step.Selector != nil {
			if _, err := metav1.LabelSelectorAsSelector(step.Selector.AsMetav1()); err != nil {
				errs = append(errs, fmt.Errorf("%s.selector: %w", at, err))
			}
		}
		for j, g := range step.Gates {
			gat := fmt.Sprintf("%s.gates[%d]", at, j)
			switch {
			case g.HTTPCheck != nil:
				if _, err := template.New("url").Option("missingkey=error").Parse(g.HTTPCheck.URL); err != nil {
					errs = append(errs, fmt.Errorf("%s.httpCheck.url: %w", gat, err))
				}
			case g.Prometheus != nil:
				if _, err := template.New("query").Option("missingkey=error").Parse(g.Prometheus.Query); err != nil {
					errs = append(errs, fmt.Errorf("%s.prometheus.query: %w", gat, err))
				}
				if _, err := strconv.ParseFloat(g.Prometheus.Threshold, 64); err != nil {
					errs = append(errs, fmt.Errorf("%s.prometheus.threshold: %w", gat, err))
				}
				if g.Prometheus.Address == "" && defaultPrometheus == "" {
					errs = append(errs, fmt.Errorf("%s.prometheus.address: not set, and the manager has no --prometheus-address", gat))
				}
			case g.Baseline != nil:
				errs = append(errs, validateBaseline(g.Baseline, gat+".baseline", defaultPrometheus)...)
			}
		}
	}
	return errors.Join(errs...)
}

// validateBaseline checks a baseline gate: its queries parse, its numbers are numbers in
// range, and it has a server to ask.
func validateBaseline(g *droverv1.BaselineGate, at, defaultPrometheus string) []error {
	var errs []error
	if g.Address == "" && defaultPrometheus == "" {
		errs = append(errs, fmt.Errorf("%s.address: not set, and the manager has no --prometheus-address", at))
	}
	if g.Confidence != "" {
		if c, err := strconv.ParseFloat(g.Confidence, 64); err != nil || !(c >= 0.5 && c < 1) {
			errs = append(errs, fmt.Errorf("%s.confidence: %q is not a decimal from 0.5 to below 1", at, g.Confidence))
		}
	}
	if g.Window != nil && g.Interval != nil && g.Interval.Duration > g.Window.Duration {
		errs = append(errs, fmt.Errorf("%s.interval: %s is longer than the window %s", at, g.Interval.Duration, g.Window.Duration))
	}
	seen := map[string]bool{}
	for k, m := range g.Metrics {
		mat := fmt.Sprintf("%s.metrics[%d] (%s)", at, k, m.Name)
		if seen[m.Name] {
			errs = append(errs, fmt.Errorf("%s: the name is used twice", mat))
		}
		seen[m.Name] = true
		if _, err := template.New("query").Option("missingkey=error").Parse(m.Query); err != nil {
			errs = append(errs, fmt.Errorf("%s.query: %w", mat, err))
		}
		if m.WorseWhen != "" && m.WorseWhen != "Higher" && m.WorseWhen != "Lower" {
			errs = append(errs, fmt.Errorf("%s.worseWhen: %q is neither Higher nor Lower", mat, m.WorseWhen))
		}
		if m.MaxRatio != "" {
			if v, err := strconv.ParseFloat(m.MaxRatio, 64); err != nil || !(v >= 1) || v > 1e9 {
				errs = append(errs, fmt.Errorf("%s.maxRatio: %q is not a decimal from 1", mat, m.MaxRatio))
			}
		}
		if m.MaxDifference != "" {
			if v, err := strconv.ParseFloat(m.MaxDifference, 64); err != nil || !(v >= 0) || v > 1e300 {
				errs = append(errs, fmt.Errorf("%s.maxDifference: %q is not a decimal of at least 0", mat, m.MaxDifference))
			}
		}
	}
	if len(g.Metrics) == 0 {
		errs = append(errs, fmt.Errorf("%s.metrics: none", at))
	}
	return errs
}
