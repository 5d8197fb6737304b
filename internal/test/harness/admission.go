package harness

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// admissionFieldManager applies the objects of InstallAdmissionPolicies.
const admissionFieldManager = "drover-admission"

// admissionKinds are the kinds of the chart's objects that ChartAdmissionPolicies
// returns.
var admissionKinds = map[string]bool{"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true}

// ChartAdmissionPolicies renders the chart as ChartRBAC does, with
// admissionPolicies.enabled (its default) said explicitly, and returns its
// ValidatingAdmissionPolicies and their bindings (config/admission's, as the chart ships
// them), ready to Apply. It is an error when the chart renders none, or a policy without
// its binding.
func ChartAdmissionPolicies(root, namespace string) ([]*unstructured.Unstructured, error) {
	values := map[string]any{"admissionPolicies": map[string]any{"enabled": true}}
	objs, err := chartObjects(root, namespace, values, admissionKinds)
	if err != nil {
		return nil, err
	}
	policies, bound := map[string]bool{}, map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "ValidatingAdmissionPolicy" {
			policies[o.GetName()] = true
			continue
		}
		name, _, err := unstructured.NestedString(o.Object, "spec", "policyName")
		if err != nil {
			return nil, fmt.Errorf("charts/drover: ValidatingAdmissionPolicyBinding %s: %w", o.GetName(), err)
		}
		bound[name] = true
	}
	if len(policies) == 0 {
		return nil, fmt.Errorf("charts/drover renders no ValidatingAdmissionPolicy with admissionPolicies.enabled")
	}
	for name := range policies {
		if !bound[name] {
			return nil, fmt.Errorf("charts/drover: ValidatingAdmissionPolicy %s has no binding", name)
		}
	}
	return objs, nil
}

// InstallAdmissionPolicies applies the chart's ValidatingAdmissionPolicies and their
// bindings (ChartAdmissionPolicies) to the control plane c, with server-side apply, as
// a `helm install` with the default values would. The API server takes them into
// account a moment later: a caller that needs a refusal waits for it.
func InstallAdmissionPolicies(ctx context.Context, root string, c client.Client, namespace string) ([]*unstructured.Unstructured, error) {
	objs, err := ChartAdmissionPolicies(root, namespace)
	if err != nil {
		return nil, err
	}
	if err := Apply(ctx, c, admissionFieldManager, objs...); err != nil {
		return nil, fmt.Errorf("installing the chart's admission policies: %w", err)
	}
	return objs, nil
}
