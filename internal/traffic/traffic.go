// Package traffic is the seam between the controllers and whatever publishes DNS weights.
// The Prod controller asks it, before deleting a Prod's workload objects, whether the Prod
// still receives traffic; later the ProdSet, rollout and maintenance logic move weights
// through it. The Route53 implementation lives beside the cloud clients; None is what a
// manager without a traffic provider uses.
package traffic

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Drainer takes a Prod out of traffic.
type Drainer interface {
	// Drain sets the Prod's published weight to 0 and reports whether no traffic reaches
	// it any more (the change is in sync and one TTL has passed). When it is not drained
	// yet, retryAfter says when to ask again.
	Drain(ctx context.Context, prod *droverv1.Prod) (drained bool, retryAfter time.Duration, err error)

	// Status reports the Prod's TrafficReady condition (type, status, reason, message).
	Status(ctx context.Context, prod *droverv1.Prod) metav1.Condition
}

// None is used when no traffic provider is configured: drover publishes no weights, so
// a Prod is drained exactly when nothing is published for it.
type None struct{}

var _ Drainer = None{}

// Drain reports drained when no weight is published for the Prod. A weight published by
// an earlier manager that had a provider keeps the Prod waiting: drover does not delete
// a Prod that may still receive traffic.
func (None) Drain(_ context.Context, prod *droverv1.Prod) (bool, time.Duration, error) {
	if prod.Status.PublishedWeight == nil || *prod.Status.PublishedWeight == 0 {
		return true, 0, nil
	}
	return false, 10 * time.Second, nil
}

// Status says that no weights are published.
func (None) Status(_ context.Context, _ *droverv1.Prod) metav1.Condition {
	return metav1.Condition{
		Type:    droverv1.ProdTrafficReadyCondition,
		Status:  metav1.ConditionUnknown,
		Reason:  droverv1.ProdTrafficNotConfiguredReason,
		Message: "no traffic provider is configured in the drover manager; no DNS weight is published",
	}
}
