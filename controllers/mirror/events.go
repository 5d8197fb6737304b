package mirror

import droverv1 "github.com/drover-dev/drover/api/v1alpha1"

// Reasons of the events the NLB mirror controller records on Prods. Each fires on a
// change made or a transition, never on every poll; docs/observability.md lists them.
const (
	// ReasonSynced (Normal): a sync changed the NLB to match Octavia.
	ReasonSynced = "MirrorSynced"
	// ReasonDriftCorrected (Warning): a sync put back a change made outside drover.
	ReasonDriftCorrected = "MirrorDriftCorrected"
	// ReasonBlocked (Warning): the target removal guard holds a sync.
	ReasonBlocked = "MirrorBlocked"
	// ReasonDeleted (Normal): the NLB was torn down.
	ReasonDeleted = "MirrorDeleted"
	// ReasonOctaviaUnavailable (Warning): Octavia could not be read, or its load balancer
	// is not ACTIVE; nothing is changed in AWS.
	ReasonOctaviaUnavailable = "MirrorOctaviaUnavailable"
	// ReasonLoadBalancerNotFound (Warning): the Prod's Octavia load balancer cannot be found.
	ReasonLoadBalancerNotFound = "MirrorLoadBalancerNotFound"
	// ReasonFailed (Warning): reading or changing AWS failed.
	ReasonFailed = "MirrorFailed"
)

// failureEvents are the outcomes that get a warning when a mirror turns to them (Blocked
// has its own, with the guard's summary).
var failureEvents = map[string]string{
	droverv1.ProdMirrorOctaviaUnavailableReason:   ReasonOctaviaUnavailable,
	droverv1.ProdMirrorLoadBalancerNotFoundReason: ReasonLoadBalancerNotFound,
	droverv1.ProdMirrorFailedReason:               ReasonFailed,
}
