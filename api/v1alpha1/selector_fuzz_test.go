package v1alpha1_test

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// selectorRules are the checks the generated CRD makes on a LabelSelector, read from
// config/crd (so they are what the API server enforces, not a copy).
type selectorRules struct {
	labelKey                  *regexp.Regexp // the CEL rule on matchLabels keys
	labelValue, exprValue     *regexp.Regexp
	labelValueMax, exprValMax int64
	exprKey                   *regexp.Regexp
	exprKeyMin, exprKeyMax    int64
	operators                 []string
	// the longest DNS prefix (before the '/') of a matchLabels key and of a
	// matchExpressions key, from the CEL rules "… indexOf('/') <= N".
	labelPrefixMax, exprPrefixMax int
}

var loadSelectorRules = sync.OnceValues(func() (*selectorRules, error) {
	data, err := os.ReadFile("../../config/crd/bases/drover.dev_rolloutpolicies.yaml")
	if err != nil {
		return nil, err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return nil, err
	}
	sel := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["steps"].Items.Schema.Properties["selector"]
	labels := sel.Properties["matchLabels"]
	expr := sel.Properties["matchExpressions"].Items.Schema
	key, values := expr.Properties["key"], expr.Properties["values"].Items.Schema
	r := &selectorRules{
		labelValue: regexp.MustCompile(labels.AdditionalProperties.Schema.Pattern), labelValueMax: *labels.AdditionalProperties.Schema.MaxLength,
		exprKey: regexp.MustCompile(key.Pattern), exprKeyMin: *key.MinLength, exprKeyMax: *key.MaxLength,
		exprValue: regexp.MustCompile(values.Pattern), exprValMax: *values.MaxLength,
	}
	for _, e := range expr.Properties["operator"].Enum {
		r.operators = append(r.operators, strings.Trim(string(e.Raw), `"`))
	}
	// self.all(k, k.matches('<regexp>')): a CEL string literal, so `\\` is one backslash.
	i := slices.IndexFunc(labels.XValidations, func(v apiextensionsv1.ValidationRule) bool { return strings.Contains(v.Rule, "matches('") })
	if i < 0 {
		return nil, errors.New("the CRD has no rule on matchLabels keys' syntax")
	}
	rule := labels.XValidations[i].Rule
	start, end := strings.Index(rule, "matches('")+len("matches('"), strings.LastIndex(rule, "')")
	r.labelKey = regexp.MustCompile(strings.ReplaceAll(rule[start:end], `\\`, `\`))
	if r.labelPrefixMax, err = prefixBound(labels.XValidations); err != nil {
		return nil, fmt.Errorf("matchLabels: %w", err)
	}
	if r.exprPrefixMax, err = prefixBound(key.XValidations); err != nil {
		return nil, fmt.Errorf("matchExpressions key: %w", err)
	}
	return r, nil
})

// prefixBound reads N from the rule "… indexOf('/') <= N" among rules.
func prefixBound(rules apiextensionsv1.ValidationRules) (int, error) {
	const op = "indexOf('/') <= "
	for _, v := range rules {
		if _, after, ok := strings.Cut(v.Rule, op); ok {
			digits := after[:len(after)-len(strings.TrimLeft(after, "0123456789"))]
			return strconv.Atoi(digits)
		}
	}
	return 0, errors.New("no rule bounds the key's DNS prefix")
}

// admits says whether the API server stores the selector (its schema and CEL rules).
func (r *selectorRules) admits(s *droverv1.LabelSelector) bool {
	for k, v := range s.MatchLabels {
		if !r.labelKey.MatchString(k) || strings.Index(k, "/") > r.labelPrefixMax || int64(len(v)) > r.labelValueMax || !r.labelValue.MatchString(string(v)) {
			return false
		}
	}
	for _, e := range s.MatchExpressions {
		n := int64(len(e.Key))
		if n < r.exprKeyMin || n > r.exprKeyMax || !r.exprKey.MatchString(e.Key) || strings.Index(e.Key, "/") > r.exprPrefixMax ||
			!slices.Contains(r.operators, string(e.Operator)) {
			return false
		}
		needsValues := e.Operator == metav1.LabelSelectorOpIn || e.Operator == metav1.LabelSelectorOpNotIn
		if needsValues != (len(e.Values) > 0) {
			return false
		}
		for _, v := range e.Values {
			if int64(len(v)) > r.exprValMax || !r.exprValue.MatchString(string(v)) {
				return false
			}
		}
	}
	return true
}

// FuzzLabelSelector checks that the API server and Go agree on label selectors: a
// selector the CRD admits converts with metav1.LabelSelectorAsSelector (what
// rollout.Validate and the ProdSet's placement use), and one it refuses does not, so a
// broken selector is refused when applied, as the LabelSelector type promises, and never
// reaches a controller. AsMetav1 carries every label and requirement over unchanged.
// The CRD's rules are read from config/crd/bases, so a change of the markers is checked
// as generated.
//
//	go test -run='^$' -fuzz='^FuzzLabelSelector$' -fuzztime=60s -fuzzminimizetime=100x -parallel=1 ./api/v1alpha1/
func FuzzLabelSelector(f *testing.F) {
	for _, seed := range []struct {
		labelKey, labelValue, exprKey, op, v1, v2 string
		values                                    uint8
	}{
		{"region", "eu", "tier", "In", "a", "b", 2},
		{"drover.dev/cluster", "cluster-1", "example.com/zone", "NotIn", "z-1", "", 1},
		{"", "", "name", "Exists", "", "", 0},
		{"", "", "name", "DoesNotExist", "x", "", 1},
		{"bad key!", "v", "k", "In", "", "", 0},
		{"k", "-bad", "k", "Equals", "v", "", 1},
		{"a.b-c/d_e.f", "", "UPPER.case/x", "In", strings.Repeat("v", 63), strings.Repeat("v", 64), 2},
		{"/x", "v", "a/", "In", "v", "", 1},
		{strings.Repeat("a", 63), "v", strings.Repeat("b", 64), "Exists", "", "", 0},
		// DNS prefixes of 254 characters, past what Go allows: refused by the CRD's rules
		// on the prefix (they were once admitted, then held by the controller as invalid).
		{strings.Repeat("a", 254) + "/x", "v", strings.Repeat("b", 254) + "/y", "Exists", "", "", 0},
	} {
		f.Add(seed.labelKey, seed.labelValue, seed.exprKey, seed.op, seed.v1, seed.v2, seed.values)
	}
	f.Fuzz(func(t *testing.T, labelKey, labelValue, exprKey, op, v1, v2 string, values uint8) {
		rules, err := loadSelectorRules()
		if err != nil {
			t.Fatalf("reading the CRD: %v", err)
		}
		sel := &droverv1.LabelSelector{}
		if labelKey != "" || labelValue != "" {
			sel.MatchLabels = map[string]droverv1.LabelValue{labelKey: droverv1.LabelValue(labelValue)}
		}
		req := droverv1.LabelSelectorRequirement{Key: exprKey, Operator: metav1.LabelSelectorOperator(op)}
		for _, v := range []string{v1, v2}[:values%3] {
			req.Values = append(req.Values, droverv1.LabelValue(v))
		}
		sel.MatchExpressions = []droverv1.LabelSelectorRequirement{req}

		m := sel.AsMetav1()
		if len(m.MatchLabels) != len(sel.MatchLabels) || m.MatchLabels[labelKey] != string(sel.MatchLabels[labelKey]) {
			t.Errorf("AsMetav1 matchLabels %v, want %v", m.MatchLabels, sel.MatchLabels)
		}
		want := metav1.LabelSelectorRequirement{Key: exprKey, Operator: req.Operator}
		for _, v := range req.Values {
			want.Values = append(want.Values, string(v))
		}
		if len(m.MatchExpressions) != 1 || !reflect.DeepEqual(m.MatchExpressions[0], want) {
			t.Errorf("AsMetav1 matchExpressions %+v, want [%+v]", m.MatchExpressions, want)
		}

		_, convErr := metav1.LabelSelectorAsSelector(m)
		admitted := rules.admits(sel)
		switch {
		case admitted && convErr != nil:
			t.Fatalf("the CRD admits a selector Go cannot convert (the policy would be stored, then refused by the controller): %v", convErr)
		case !admitted && convErr == nil:
			t.Fatalf("the CRD refuses a selector Go converts: matchLabels %v, matchExpressions %+v", sel.MatchLabels, sel.MatchExpressions)
		}
	})
}
