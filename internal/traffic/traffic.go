// Package traffic is the seam between the controllers and whatever publishes DNS weights.
//
// Two interfaces meet here. A Publisher writes the service-level weighted records of a
// ProdSet (one record per Prod under the service name) as one change per call and says
// when a change is in sync; the Route53 implementation is internal/traffic/route53
// (built on the Route53 client of internal/cloud/route53), and Memory is an honest
// in-process one, for unit tests of pure logic and --traffic-provider=memory (demos,
// the scale benchmark). A Drainer is what the Prod controller asks, before deleting a
// Prod's workload objects, whether the Prod still receives traffic, and what to report
// as its TrafficReady condition; the ProdSet controller provides the one for Prods of a
// set, and None is the one for Prods of their own, for which nothing is published.
package traffic

import (
	"context"
	"errors"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Service names the weighted record set of one service.
type Service struct {
	// Zone is the hosted zone id.
	Zone string
	// Name is the record name, such as shop.example.com.
	Name string
	// TTL of the records.
	TTL time.Duration
}

// Weight is one Prod's weighted record under the service name.
type Weight struct {
	// ID identifies the record in its set (Route53's SetIdentifier): the Prod as
	// "<namespace>/<name>".
	ID string
	// Weight to publish, 0–255.
	Weight int32
	// Remove deletes the record instead (and the Prod's path records); Weight and Paths
	// are ignored.
	Remove bool
	// Paths are the Prod's two paths, for providers that publish them; nil leaves the
	// path records as they are.
	Paths *Paths
}

// ErrChangeInProgress is returned by Publish when the zone has a change that is not in
// sync yet and the implementation does not queue behind it (Route53's
// PriorRequestNotComplete). The caller tries again later; nothing was changed.
var ErrChangeInProgress = errors.New("another change to the hosted zone is in progress")

// ErrChangeLost is returned by InSync when the change will never be in sync: the
// implementation does not know it (it was made by a manager that has since restarted) or
// it failed. The caller publishes its weights again.
var ErrChangeLost = errors.New("the DNS change was lost; publish again")

// RefusedError is what InSync returns for a service whose records the provider refused:
// Route53 would not take them as they are (a name outside the hosted zone, a record that
// conflicts with one already there, a health check it will not create). The other
// services of the change went on without them. Reason is the provider's own words; the
// caller reports it where the service's owner reads it and publishes again later, as the
// same records fail again until what is wrong is fixed.
type RefusedError struct {
	// Service is the refused service's record name.
	Service string
	// Reason is why, in the provider's words.
	Reason string
}

func (e *RefusedError) Error() string {
	return "the records of " + e.Service + " were refused: " + e.Reason
}

// Publisher publishes the weights of a service's records.
type Publisher interface {
	// Publish submits every given weight of svc as one change (one batch per zone) and
	// returns the change's id. It either applies all of them or none.
	Publish(ctx context.Context, svc Service, weights []Weight) (changeID string, err error)
	// InSync reports whether the change has reached every DNS server (Route53's INSYNC).
	// It returns ErrChangeLost when the change will never be in sync, and a
	// *RefusedError when the provider refused the service's records.
	InSync(ctx context.Context, changeID string) (bool, error)
}

// PublishesPaths reports whether p publishes the Prods' paths (Weight.Paths): then a
// Prod's service-level record can exist only once the Prod has a path, and a Prod without
// one is published with weight 0.
func PublishesPaths(p Publisher) bool {
	pp, ok := p.(interface{ PublishesPaths() bool })
	return ok && pp.PublishesPaths()
}

// State is what a Drainer reports about one Prod.
type State struct {
	// Condition is the Prod's TrafficReady condition (type, status, reason, message).
	Condition metav1.Condition
	// PublishedWeight is the weight confirmed in DNS; nil when nothing is published.
	PublishedWeight *int32
}

// Drainer takes a Prod out of traffic.
type Drainer interface {
	// Drain sets the Prod's published weight to 0 and reports whether no traffic reaches
	// it any more (the change is in sync and one TTL has passed). When it is not drained
	// yet, retryAfter says when to ask again.
	Drain(ctx context.Context, prod *droverv1.Prod) (drained bool, retryAfter time.Duration, err error)

	// Status reports the Prod's TrafficReady condition and its published weight.
	Status(ctx context.Context, prod *droverv1.Prod) State
}

// None is used for Prods whose weights nobody publishes: a Prod of its own (service-level
// records belong to ProdSets), or any Prod when no traffic provider is configured.
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

// Status says that no weights are published, and keeps a weight an earlier manager
// published until someone who can change it does.
func (None) Status(_ context.Context, prod *droverv1.Prod) State {
	return State{
		Condition: metav1.Condition{
			Type:    droverv1.ProdTrafficReadyCondition,
			Status:  metav1.ConditionUnknown,
			Reason:  droverv1.ProdTrafficNotConfiguredReason,
			Message: "no DNS weight is published for this Prod: it belongs to no ProdSet with spec.traffic, or the manager has no traffic provider",
		},
		PublishedWeight: prod.Status.PublishedWeight,
	}
}

// DefaultTTL applies when a ProdSet's spec.traffic.ttl is unset.
const DefaultTTL = 30 * time.Second

// ServiceOf is a ProdSet's record set; false when the set publishes none.
func ServiceOf(set *droverv1.ProdSet) (Service, bool) {
	t := set.Spec.Traffic
	if t == nil {
		return Service{}, false
	}
	ttl := DefaultTTL
	if t.TTL > 0 {
		ttl = time.Duration(t.TTL) * time.Second
	}
	return Service{Zone: t.HostedZoneID, Name: t.RecordName, TTL: ttl}, true
}

// RecordID identifies a Prod's record under its set's service name (Weight.ID).
func RecordID(namespace, prod string) string { return namespace + "/" + prod }

// ClaimKey names a record name in a hosted zone, as a ProdSet's
// status.traffic.claimedName holds it.
func ClaimKey(zoneID, name string) string {
	return zoneID + "/" + strings.TrimSuffix(strings.ToLower(name), ".")
}
