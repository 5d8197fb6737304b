package prodset

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/rollout"
	"github.com/drover-dev/drover/internal/textcut"
)

// Reasons of the events the ProdSet controller records on ProdSets. Each fires once per
// decision or transition, never on every reconcile; docs/observability.md lists them.
const (
	// Placement and traffic.
	ReasonCreated    = "Created"                           // Normal: Prods were created (one event per reconcile: how many, on which clusters)
	ReasonSurge      = "Surge"                             // Normal: stand-in Prods were created for clusters in surge maintenance (one event per reconcile)
	ReasonEvicted    = "Evicted"                           // Normal: Prods' weights went to 0 (unreachable cluster, maintenance, rollout, retirement...; one event per reconcile)
	ReasonAdmitted   = "Admitted"                          // Normal: Prods' weights went back up (one event per reconcile)
	ReasonSuperseded = "Superseded"                        // Warning: a Prod on a cluster unreachable past the toleration is being replaced elsewhere
	ReasonDeleted    = "Deleted"                           // Normal: a drained Prod was deleted
	ReasonUpdated    = "Updated"                           // Normal: Prods' revisions changed (one event per reconcile)
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

// maxEventMessage bounds the message of an event that lists Prods (the note of an
// events.k8s.io Event is at most 1 KiB).
const maxEventMessage = 1024

// batch gathers the per-Prod events of one reconcile's writes, to record one event per
// reason and kind of change rather than one per Prod: the first apply or a rollout writes
// every Prod of a set at once (the first apply of 2,000 Prods recorded 2,000 Created
// events). A batch of one records the single Prod's own sentence.
type batch struct {
	order []batchKey
	by    map[batchKey]*batchLines
}

// batchKey is one event of a batch: its type and reason, and the heading that says what
// happened to every Prod listed under it ("%d Prods out of traffic: ...").
type batchKey struct{ eventType, reason, action, head string }

type batchLines struct {
	single []string // each Prod's own sentence, for a batch of one
	items  []string // each Prod as listed under the heading
}

// add adds one Prod's event: single is its sentence alone, item how it is listed under
// head, whose "%d" is replaced by the count.
func (b *batch) add(eventType, reason, action, head, single, item string) {
	k := batchKey{eventType: eventType, reason: reason, action: action, head: head}
	if b.by == nil {
		b.by = map[batchKey]*batchLines{}
	}
	l := b.by[k]
	if l == nil {
		l = &batchLines{}
		b.by[k] = l
		b.order = append(b.order, k)
	}
	l.single = append(l.single, single)
	l.items = append(l.items, item)
}

// record records the batch's events on set: one per heading, its Prods listed in order
// of name, the message cut to maxEventMessage.
func (r *Reconciler) record(set *droverv1.ProdSet, b *batch) {
	for _, k := range b.order {
		l := b.by[k]
		if len(l.single) == 1 {
			r.event(set, k.eventType, k.reason, k.action, "%s", textcut.Mark(l.single[0], maxEventMessage))
			continue
		}
		items := slices.Clone(l.items)
		slices.Sort(items)
		msg := strings.Replace(k.head, "%d", strconv.Itoa(len(items)), 1) + ": " + strings.Join(items, ", ")
		r.event(set, k.eventType, k.reason, k.action, "%s", textcut.Mark(msg, maxEventMessage))
	}
}

// createdEvents records the Prods one reconcile created: one Created event naming how
// many and on which clusters, and one Surge event for the stand-ins of clusters under
// surge maintenance.
func (r *Reconciler) createdEvents(s *scope, created []*droverv1.Prod) {
	var plain, surge []*droverv1.Prod
	for _, p := range created {
		if p.Labels[droverv1.SurgeForLabel] != "" {
			surge = append(surge, p)
		} else {
			plain = append(plain, p)
		}
	}
	b := &batch{}
	if len(plain) > 0 {
		head := "created %d Prods on " + clusterList(plain)
		for _, p := range plain {
			b.add(corev1.EventTypeNormal, ReasonCreated, "Create", head,
				fmt.Sprintf("created Prod %s on cluster %s", p.Name, p.Spec.ClusterRef.Name), p.Name)
		}
	}
	for _, p := range surge {
		c, standsFor := p.Spec.ClusterRef.Name, p.Labels[droverv1.SurgeForLabel]
		b.add(corev1.EventTypeNormal, ReasonSurge, "Create", "created %d Prods to stand in for clusters during their maintenance",
			fmt.Sprintf("created Prod %s on cluster %s to stand in for cluster %s during its maintenance", p.Name, c, standsFor),
			fmt.Sprintf("%s on cluster %s for cluster %s", p.Name, c, standsFor))
	}
	r.record(s.set, b)
}

// clusterList names the clusters of prods, "cluster a" or "clusters a, b and c", in
// order of name, each once.
func clusterList(prods []*droverv1.Prod) string {
	var names []string
	for _, p := range prods {
		names = append(names, p.Spec.ClusterRef.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 1 {
		return "cluster " + names[0]
	}
	return "clusters " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
