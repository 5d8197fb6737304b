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
	// ReasonNotPermitted (Warning): the Prod's Octavia load balancer is of an OpenStack
	// project its namespace's Tenant does not list; nothing is read into status or mirrored.
	ReasonNotPermitted = "MirrorNotPermitted"
	// ReasonReleased (Warning): a deleted Prod carrying drover.dev/release-finalizers was
	// let go although its NLB could not be deleted; the event says what is left in AWS.
	ReasonReleased = "MirrorReleased"
)

// failureEvents are the outcomes that get a warning when a mirror turns to them (Blocked
// has its own, with the guard's summary).
var failureEvents = map[string]string{
	droverv1.ProdMirrorOctaviaUnavailableReason:   ReasonOctaviaUnavailable,
	droverv1.ProdMirrorLoadBalancerNotFoundReason: ReasonLoadBalancerNotFound,
	droverv1.ProdMirrorFailedReason:               ReasonFailed,
	droverv1.ProdMirrorNotPermittedReason:         ReasonNotPermitted,
}
