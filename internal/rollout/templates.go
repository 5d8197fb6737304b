package rollout

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Templates finds analysis templates: the namespace's AnalysisTemplate of a name, or
// with cluster the ClusterAnalysisTemplate. found is false when there is none; err is for
// a lookup that could not be made.
type Templates func(name string, cluster bool) (spec *droverv1.AnalysisTemplateSpec, found bool, err error)

// ErrLookup wraps a template lookup that could not be made: the policy is not judged
// invalid for it, the caller retries.
var ErrLookup = errors.New("reading an analysis template")

// argRef is {{ .Args.<name> }}, the one form of an argument a template's gate may use.
var argRef = regexp.MustCompile(`\{\{\s*\.Args\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// Resolve returns spec with every template gate replaced by its template's gate, each
// {{ .Args.<name> }} in its url, queries and threshold replaced by the argument's value
// (the step's, else the template's default). In a url or query the value becomes a
// template string literal, so it is printed as written, never run as a template. A
// template that does not exist, an argument the step gives that the template does not
// declare, one it declares without a default that the step does not give, or another use
// of .Args is an error naming the step and gate. Resolve does not change spec.
func Resolve(spec droverv1.RolloutPolicySpec, lookup Templates) (droverv1.RolloutPolicySpec, error) {
	out := *spec.DeepCopy()
	var errs []error
	for i := range out.Steps {
		step := &out.Steps[i]
		for j := range step.Gates {
			ref := step.Gates[j].Template
			if ref == nil {
				continue
			}
			at := fmt.Sprintf("spec.steps[%d] (%s).gates[%d].template", i, step.Name, j)
			g, err := resolveGate(ref, lookup)
			if err != nil {
				if errors.Is(err, ErrLookup) {
					return spec, fmt.Errorf("%s: %w", at, err)
				}
				errs = append(errs, fmt.Errorf("%s: %w", at, err))
				continue
			}
			step.Gates[j] = g
		}
	}
	if len(errs) > 0 {
		return spec, errors.Join(errs...)
	}
	return out, nil
}

func resolveGate(ref *droverv1.TemplateGate, lookup Templates) (droverv1.Gate, error) {
	kind := "AnalysisTemplate"
	if ref.Cluster {
		kind = "ClusterAnalysisTemplate"
	}
	t, found, err := lookup(ref.Name, ref.Cluster)
	switch {
	case err != nil:
		return droverv1.Gate{}, fmt.Errorf("%w %s %q: %v", ErrLookup, kind, ref.Name, err)
	case !found:
		return droverv1.Gate{}, fmt.Errorf("%s %q not found", kind, ref.Name)
	}
	args := map[string]string{}
	declared := map[string]bool{}
	for _, a := range t.Args {
		declared[a.Name] = true
		if a.Value != nil {
			args[a.Name] = *a.Value
		}
	}
	var errs []error
	for _, a := range ref.Args {
		if !declared[a.Name] {
			errs = append(errs, fmt.Errorf("argument %q is not one %s %q declares", a.Name, kind, ref.Name))
			continue
		}
		args[a.Name] = a.Value
	}
	for _, a := range t.Args {
		if _, ok := args[a.Name]; !ok {
			errs = append(errs, fmt.Errorf("argument %q of %s %q is not given and has no default", a.Name, kind, ref.Name))
		}
	}
	if len(errs) > 0 {
		return droverv1.Gate{}, errors.Join(errs...)
	}
	g := *t.Gate.DeepCopy()
	sub := func(field string, s *string, literal bool) {
		var missing []string
		*s = argRef.ReplaceAllStringFunc(*s, func(m string) string {
			name := argRef.FindStringSubmatch(m)[1]
			v, ok := args[name]
			if !ok {
				missing = append(missing, name)
				return m
			}
			if literal {
				return "{{ " + strconv.Quote(v) + " }}"
			}
			return v
		})
		for _, name := range slices.Compact(slices.Sorted(slices.Values(missing))) {
			errs = append(errs, fmt.Errorf("%s uses {{ .Args.%s }}, which %s %q does not declare", field, name, kind, ref.Name))
		}
		if len(missing) == 0 && strings.Contains(argRef.ReplaceAllString(*s, ""), ".Args") {
			errs = append(errs, fmt.Errorf("%s: only {{ .Args.<name> }} is replaced by an argument", field))
		}
	}
	switch {
	case g.HTTPCheck != nil:
		sub("httpCheck.url", &g.HTTPCheck.URL, true)
	case g.Prometheus != nil:
		sub("prometheus.query", &g.Prometheus.Query, true)
		sub("prometheus.threshold", &g.Prometheus.Threshold, false)
	case g.Baseline != nil:
		for k := range g.Baseline.Metrics {
			sub(fmt.Sprintf("baseline.metrics[%d].query", k), &g.Baseline.Metrics[k].Query, true)
		}
	default:
		errs = append(errs, fmt.Errorf("%s %q has no httpCheck, prometheus or baseline gate", kind, ref.Name))
	}
	return g, errors.Join(errs...)
}
