package rollout

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

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
				errs = append(errs, checkTemplate(gat+".httpCheck.url", g.HTTPCheck.URL)...)
			case g.Prometheus != nil:
				errs = append(errs, checkTemplate(gat+".prometheus.query", g.Prometheus.Query)...)
				if strings.Contains(g.Prometheus.Threshold, ".Args") {
					errs = append(errs, fmt.Errorf("%s.prometheus.threshold: {{ .Args.<name> }} is replaced only in an analysis template's gate", gat))
				} else if _, err := strconv.ParseFloat(g.Prometheus.Threshold, 64); err != nil {
					errs = append(errs, fmt.Errorf("%s.prometheus.threshold: %w", gat, err))
				}
				if g.Prometheus.Address == "" && defaultPrometheus == "" {
					errs = append(errs, fmt.Errorf("%s.prometheus.address: not set, and the manager has no --prometheus-address", gat))
				}
			case g.Baseline != nil:
				errs = append(errs, validateBaseline(g.Baseline, gat+".baseline", defaultPrometheus)...)
			case g.Template != nil:
				errs = append(errs, fmt.Errorf("%s.template: the analysis template %q is not resolved (rollout.Resolve)", gat, g.Template.Name))
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
		errs = append(errs, checkTemplate(mat+".query", m.Query)...)
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

// checkTemplate checks a gate's Go template (a url or a query): it parses, and uses no
// argument (an analysis template's arguments are replaced before; one left is not one
// the template replaced).
func checkTemplate(at, text string) []error {
	t, err := template.New("t").Option("missingkey=error").Parse(text)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", at, err)}
	}
	if t.Tree != nil && usesArgs(t.Tree.Root) {
		return []error{fmt.Errorf("%s: {{ .Args.<name> }} is replaced only in an analysis template's gate", at)}
	}
	return nil
}

// usesArgs says whether a template's parse tree reads the field .Args anywhere.
func usesArgs(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			return slices.ContainsFunc(n.Nodes, usesArgs)
		}
	case *parse.ActionNode:
		return usesArgs(n.Pipe)
	case *parse.PipeNode:
		if n != nil {
			return slices.ContainsFunc(n.Cmds, func(c *parse.CommandNode) bool { return usesArgs(c) })
		}
	case *parse.CommandNode:
		return slices.ContainsFunc(n.Args, usesArgs)
	case *parse.FieldNode:
		return len(n.Ident) > 0 && n.Ident[0] == "Args"
	case *parse.ChainNode:
		return usesArgs(n.Node)
	case *parse.IfNode:
		return usesArgs(n.Pipe) || usesArgs(n.List) || usesArgs(n.ElseList)
	case *parse.RangeNode:
		return usesArgs(n.Pipe) || usesArgs(n.List) || usesArgs(n.ElseList)
	case *parse.WithNode:
		return usesArgs(n.Pipe) || usesArgs(n.List) || usesArgs(n.ElseList)
	case *parse.TemplateNode:
		return usesArgs(n.Pipe)
	}
	return false
}

// Prepare is what a policy is judged and run by: spec with its analysis templates in
// place (Resolve), checked (Validate). A template that could not be read is an error
// wrapping ErrLookup: the policy is judged again once it can be; any other error says
// why the policy is invalid.
func Prepare(spec droverv1.RolloutPolicySpec, lookup Templates, defaultPrometheus string) (droverv1.RolloutPolicySpec, error) {
	resolved, err := Resolve(spec, lookup)
	if err != nil {
		return resolved, err
	}
	return resolved, Validate(resolved, defaultPrometheus)
}
