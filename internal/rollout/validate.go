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
			}
		}
	}
	return errors.Join(errs...)
}
