package prodset

import (
	corev1 "k8s.io/api/core/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/rollout"
)

// Reasons of the events the ProdSet controller records on ProdSets. Each fires once per
// decision or transition, never on every reconcile; docs/observability.md lists them.
const (
	// Placement and traffic.
	ReasonCreated    = "Created"                           // Normal: a Prod was created on a cluster
	ReasonSurge      = "Surge"                             // Normal: a stand-in Prod was created for a cluster in surge maintenance
	ReasonEvicted    = "Evicted"                           // Normal: a Prod's weight went to 0 (unreachable cluster, maintenance, rollout, retirement...)
	ReasonAdmitted   = "Admitted"                          // Normal: a Prod's weight went back up
	ReasonSuperseded = "Superseded"                        // Warning: a Prod on a cluster unreachable past the toleration is being replaced elsewhere
	ReasonDeleted    = "Deleted"                           // Normal: a drained Prod was deleted
	ReasonUpdated    = "Updated"                           // Normal: a Prod's revision changed
	ReasonReplacing  = "Replacing"                         // Normal: a replacement Prod was created (Replace strategy)
	ReasonFrozen     = "Frozen"                            // Warning: too many clusters unreachable at once; the set changes nothing
	ReasonUnfrozen   = "Unfrozen"                          // Normal: enough clusters answer again
	ReasonUnplaced   = droverv1.ProdSetUnplacedReason      // Warning: Placed turned False (NoRoom): not every replica has a cluster
	ReasonBelowMin   = droverv1.ProdSetBelowMinimumReason  // Warning: Available turned False (BelowServingMinimum): fewer Prods serve than the minimum
	ReasonDeleting   = droverv1.ProdSetDeletingReason      // Normal: the set is being deleted: draining and deleting its Prods
	ReasonPublishErr = droverv1.ProdSetTrafficFailedReason // Warning: a DNS change could not be submitted (TrafficReady turned False)

	// Safety rules (spec.safety). Held and InvalidOverride (Warning) are the
	// SafetyRulesKept condition's reasons, recorded when it turns to them.
	ReasonSafetyOverride = "SafetyOverride" // Warning: a DNS change let through moves the safety rules hold, under the override annotation

	// Rollouts: the controller's own decisions.
	ReasonRollbackRequested = "RollbackRequested"       // Warning: an abort or rollback command was read
	ReasonRollbackSubmitted = "RollbackSubmitted"       // Normal: the rollback's DNS change was submitted
	ReasonCommandIgnored    = "CommandIgnored"          // Warning: a command that does not apply now
	ReasonUnknownCommand    = "UnknownCommand"          // Warning: the annotation's word is not a command
	ReasonStepStarted       = "RolloutStepStarted"      // Normal: a step of the rollout starts
	ReasonAwaitingApproval  = "RolloutAwaitingApproval" // Normal: a step waits for a promote (an approval or pause gate)
	ReasonRolloutFrozen     = "RolloutFrozen"           // Warning: a Freeze or ClusterFreeze holds the rollout
	ReasonRolloutUnfrozen   = "RolloutUnfrozen"         // Normal: no freeze holds it any more
	ReasonRolloutCommand    = "RolloutCommand"          // Normal: a command was acted on: which, and who set it, so that none given by hand goes unseen

	// Rollouts: what rollout.Next reports (see rolloutEvents).
	ReasonRolloutStarted    = "RolloutStarted"
	ReasonRolloutSuperseded = "RolloutSuperseded"
	ReasonRolloutPaused     = "RolloutPaused"
	ReasonRolloutResumed    = "RolloutResumed"
	ReasonRolloutPromoted   = "RolloutPromoted"
	ReasonProdSelected      = "RolloutProdSelected"
	ReasonStepSkipped       = "RolloutStepSkipped"
	ReasonStepPassed        = "RolloutStepPassed"
	ReasonProdsFailed       = "RolloutProdsFailed"
	ReasonGateFailed        = "RolloutGateFailed"
	ReasonRollingBack       = "RollingBack"
	ReasonRolledBack        = "RolledBack"
	ReasonRolloutSucceeded  = "RolloutSucceeded"

	// The reasons PolicyNotFound and PolicyInvalid (Warning: the rollout is held) are the
	// RolledOut condition's, droverv1.ProdSetPolicyNotFoundReason and
	// droverv1.ProdSetPolicyInvalidReason.
)

// rolloutEvents gives each kind of rollout.Next's messages its event reason and type.
var rolloutEvents = map[rollout.MessageKind]struct{ reason, eventType string }{
	rollout.MessageStarted:      {ReasonRolloutStarted, corev1.EventTypeNormal},
	rollout.MessageSuperseded:   {ReasonRolloutSuperseded, corev1.EventTypeNormal},
	rollout.MessagePaused:       {ReasonRolloutPaused, corev1.EventTypeNormal},
	rollout.MessageResumed:      {ReasonRolloutResumed, corev1.EventTypeNormal},
	rollout.MessagePromoted:     {ReasonRolloutPromoted, corev1.EventTypeNormal},
	rollout.MessageProdSelected: {ReasonProdSelected, corev1.EventTypeNormal},
	rollout.MessageStepSkipped:  {ReasonStepSkipped, corev1.EventTypeNormal},
	rollout.MessageStepPassed:   {ReasonStepPassed, corev1.EventTypeNormal},
	rollout.MessageProdsFailed:  {ReasonProdsFailed, corev1.EventTypeWarning},
	rollout.MessageGateFailed:   {ReasonGateFailed, corev1.EventTypeWarning},
	rollout.MessageRollingBack:  {ReasonRollingBack, corev1.EventTypeWarning},
	rollout.MessageRolledBack:   {ReasonRolledBack, corev1.EventTypeNormal},
	rollout.MessageSucceeded:    {ReasonRolloutSucceeded, corev1.EventTypeNormal},
}

// rolloutEvent is the reason and type of an event for one of rollout.Next's messages.
func rolloutEvent(k rollout.MessageKind) (reason, eventType string) {
	if e, ok := rolloutEvents[k]; ok {
		return e.reason, e.eventType
	}
	return "Rollout", corev1.EventTypeNormal
}
