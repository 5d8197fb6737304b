// Package read reads what tenancy.Resolve needs, a control-plane Namespace and the
// Tenant its label names, so every controller resolves a namespace's tenancy the same
// way.
package read

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

// Policy resolves the tenancy of the control-plane namespace: it reads the Namespace
// and the Tenant its drover.dev/tenant label names. A Tenant that does not exist is not
// an error (the Policy refuses everything); failing to read either is, and its message
// says which read failed.
func Policy(ctx context.Context, c client.Reader, namespace string, singleTeam bool) (tenancy.Policy, error) {
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return tenancy.Policy{}, fmt.Errorf("reading namespace %s for its tenant: %w", namespace, err)
	}
	var lookupErr error
	p := tenancy.Resolve(ns.Name, ns.Labels, func(name string) (*droverv1.Tenant, bool) {
		t := &droverv1.Tenant{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, t); err != nil {
			if !apierrors.IsNotFound(err) {
				lookupErr = err
			}
			return nil, false
		}
		return t, true
	}, singleTeam)
	if lookupErr != nil {
		return tenancy.Policy{}, fmt.Errorf("reading the Tenant of namespace %s: %w", namespace, lookupErr)
	}
	return p, nil
}

// ReservedZones returns whether some Tenant lists a hosted zone (tenancy.Policy.RecordName's
// reserved), from every Tenant.
func ReservedZones(ctx context.Context, c client.Reader) (func(zoneID string) bool, error) {
	list := &droverv1.TenantList{}
	if err := c.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing Tenants for the hosted zones they hold: %w", err)
	}
	return func(zoneID string) bool {
		for i := range list.Items {
			if tenancy.ListsZone(&list.Items[i], zoneID) {
				return true
			}
		}
		return false
	}, nil
}
