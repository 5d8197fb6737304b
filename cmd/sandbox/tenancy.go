package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// The sandbox's control plane is multi-tenant as a platform team would set it up
// (docs/security.md): the chart's ValidatingAdmissionPolicies (config/admission) are
// installed, the Tenant among the samples is applied, and the namespace of the other
// samples, where the workload clusters are registered, joins it by its label.

// admissionSettle bounds how long the sandbox waits for the API server's admission
// plugin to see a Tenant or a namespace's label it has just written.
const admissionSettle = 30 * time.Second

// installAdmission applies the chart's ValidatingAdmissionPolicies and their bindings
// (config/admission's, as `helm install` puts them with the default values) on the
// control plane, and says which.
func installAdmission(ctx context.Context, bed *testbed.Testbed, cfg config) error {
	objs, err := harness.InstallAdmissionPolicies(ctx, cfg.root, bed.ControlPlane.Client, managerNamespace)
	if err != nil {
		return err
	}
	var names []string
	for _, o := range objs {
		if o.GetKind() == "ValidatingAdmissionPolicy" {
			names = append(names, o.GetName())
		}
	}
	fmt.Printf("the API server checks the tenant boundaries at admission (charts/drover's copies of config/admission): %s\n", strings.Join(names, ", "))
	return nil
}

// tenantPlan is the tenancy the sandbox sets up from the samples: the Tenant and the
// control-plane namespaces it governs.
type tenantPlan struct {
	Tenant     *unstructured.Unstructured // nil: no Tenant among the samples, the defaults apply
	Namespaces []string                   // the namespaces of the other samples, sorted
}

// planTenancy finds the one Tenant among objs and the namespaces of the others. More
// than one Tenant is an error: the sandbox would not know which namespace joins which.
func planTenancy(objs []*unstructured.Unstructured) (tenantPlan, error) {
	var plan tenantPlan
	for _, o := range objs {
		if isTenant(o) {
			if plan.Tenant != nil {
				return tenantPlan{}, fmt.Errorf("the samples hold two Tenants, %s and %s; the sandbox sets up one", plan.Tenant.GetName(), o.GetName())
			}
			plan.Tenant = o
			continue
		}
		if ns := o.GetNamespace(); ns != "" && !slices.Contains(plan.Namespaces, ns) {
			plan.Namespaces = append(plan.Namespaces, ns)
		}
	}
	slices.Sort(plan.Namespaces)
	return plan, nil
}

// isTenant says whether o is a drover Tenant.
func isTenant(o *unstructured.Unstructured) bool {
	return o.GroupVersionKind() == droverv1.GroupVersion.WithKind("Tenant")
}

// setUpTenancy does the platform team's part: it applies the plan's Tenant, then labels
// its namespaces drover.dev/tenant=<tenant> (creating them if need be), in that order:
// with the admission policies installed, a labelled namespace refuses new Prods while no
// Tenant exists.
func setUpTenancy(ctx context.Context, c client.Client, plan tenantPlan) error {
	if plan.Tenant == nil {
		fmt.Println("no Tenant among the samples: their namespaces get the defaults (Clusters of their own namespace, namespaced kinds only)")
		return nil
	}
	name := plan.Tenant.GetName()
	fmt.Printf("the platform team sets up the tenant %q (docs/security.md):\n", name)
	if err := harness.Apply(ctx, c, fieldManager, plan.Tenant); err != nil {
		return err
	}
	fmt.Printf("  applied Tenant %s\n", name)
	for _, ns := range plan.Namespaces {
		if err := labelNamespace(ctx, c, ns, name); err != nil {
			return fmt.Errorf("labelling namespace %s: %w", ns, err)
		}
		fmt.Printf("  kubectl label namespace %s %s=%s\n", ns, droverv1.TenantLabel, name)
	}
	return nil
}

// labelNamespace sets drover.dev/tenant=tenant on the namespace name, creating the
// namespace when it does not exist.
func labelNamespace(ctx context.Context, c client.Client, name, tenant string) error {
	ns := &corev1.Namespace{}
	err := c.Get(ctx, client.ObjectKey{Name: name}, ns)
	switch {
	case client.IgnoreNotFound(err) != nil:
		return err
	case err != nil:
		ns = &corev1.Namespace{}
		ns.SetName(name)
		ns.SetLabels(map[string]string{droverv1.TenantLabel: tenant})
		return c.Create(ctx, ns)
	}
	patch := client.MergeFrom(ns.DeepCopy())
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[droverv1.TenantLabel] = tenant
	return c.Patch(ctx, ns, patch)
}

// isAdmissionRefusal says whether err is the API server refusing a request by one of
// its ValidatingAdmissionPolicies.
func isAdmissionRefusal(err error) bool {
	return err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy")
}

// applyAdmitted applies o, retrying for admissionSettle while an admission policy
// refuses it: the API server's admission plugin sees a Tenant or a namespace's label a
// moment after it is written, and until then a policy may refuse what the Tenant allows.
func applyAdmitted(ctx context.Context, c client.Client, o *unstructured.Unstructured) error {
	deadline := time.Now().Add(admissionSettle)
	said := false
	for {
		err := harness.Apply(ctx, c, fieldManager, o)
		if !isAdmissionRefusal(err) || time.Now().After(deadline) {
			return err
		}
		if !said {
			fmt.Printf("  (%s %s refused at admission while the API server catches up with the tenancy; retrying: %v)\n",
				o.GetKind(), client.ObjectKeyFromObject(o), err)
			said = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
