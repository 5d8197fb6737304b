// Package lookup reads what tenancy.Resolve needs, a control-plane Namespace and the
// Tenant its drover.dev/tenant label names, with a client: the one way every controller
// finds the Policy of a namespace (tenancy itself stays pure).
package lookup

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

// Policy reads the control-plane namespace and its Tenant and resolves their Policy. A
// Tenant that does not exist resolves as missing (which refuses everything); any other
// error reading the Namespace or the Tenant is returned, and the Policy must not be used.
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
