package prodset

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/audit"
	"github.com/drover-dev/drover/internal/release"
	"github.com/drover-dev/drover/internal/rollout"
)

// +kubebuilder:rbac:groups=drover.dev,resources=releases,verbs=get;list;create;update;delete

// releases remembers the Release last written for each set's current rollout, so that
// a transition costs one write and no read; after a restart, the first transition of a
// rollout reads its Release once. Only transitions write (a step, a gate's verdict, a
// phase, a command): a settled set neither reads nor writes its Releases.
type releases struct {
	mu     sync.Mutex
	latest map[types.UID]*droverv1.Release
}

func (rs *releases) get(uid types.UID, name string) *droverv1.Release {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rel := rs.latest[uid]; rel != nil && rel.Name == name {
		return rel
	}
	return nil
}

func (rs *releases) put(uid types.UID, rel *droverv1.Release) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.latest == nil {
		rs.latest = map[types.UID]*droverv1.Release{}
	}
	if rel == nil || release.Finished(rel) {
		delete(rs.latest, uid) // a finished rollout changes rarely: read it again if it does
		return
	}
	rs.latest[uid] = rel
}

func (rs *releases) forget(uid types.UID) { rs.put(uid, nil) }

// last is the Release last written for the set's current rollout, if any.
func (rs *releases) last(uid types.UID) *droverv1.Release {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.latest[uid]
}

// sameRollout reports whether prev and next are states of one rollout: the same revision
// started at the same time (a revision rolled out again is another rollout).
func sameRollout(prev, next *droverv1.RolloutStatus) bool {
	return prev != nil && prev.Revision == next.Revision && prev.StartedTime.Equal(next.StartedTime)
}

// releaseTransition reports whether the rollout moved between prev and next in a way
// its Release records.
func releaseTransition(prev, next *droverv1.RolloutStatus, commanded bool) bool {
	switch {
	case next == nil:
		return false
	case commanded, !sameRollout(prev, next):
		return true
	case prev.Phase != next.Phase, prev.Step != next.Step, len(prev.Gates) != len(next.Gates),
		!ptr.Equal(prev.RollbackLatency, next.RollbackLatency), !prev.FinishedTime.Equal(next.FinishedTime):
		return true
	}
	return stepProdNames(prev) != stepProdNames(next)
}

// stepProdNames names the Prods the current step picked so far.
func stepProdNames(st *droverv1.RolloutStatus) string {
	var names []string
	for _, p := range st.Prods {
		if p.Step == st.Step {
			names = append(names, p.Name+"/"+p.Replacement)
		}
	}
	return strings.Join(names, ",")
}

// recordRelease writes the Release of the set's rollout when the rollout moved in the
// reconcile (from first's start to s's end: a reconcile may decide twice), and ends the
// Release of a rollout a newer template superseded. It runs once the reconcile's phases
// are done, whichever ended it, so a rollback's traffic change never waits for it. A
// command acted on is recorded with who set it, and told in a RolloutCommand event.
func (r *Reconciler) recordRelease(ctx context.Context, first, s *scope) error {
	set := s.set
	prev, next := first.read.Status.Rollout, set.Status.Rollout
	cmd := first.ro.command
	if cmd == rollout.NoCommand {
		cmd = s.ro.command
	}
	if s.ro.decided == rolloutAtOnce && set.DeletionTimestamp.IsZero() && r.APIReader != nil {
		return r.recordAtOnce(ctx, first, s)
	}
	if s.ro.decided == rolloutByPolicy {
		r.rolloutNotices(set, prev, next)
	}
	if r.APIReader == nil || s.ro.decided != rolloutByPolicy || !releaseTransition(prev, next, cmd != rollout.NoCommand) {
		return nil
	}
	var command *release.Command
	if cmd != rollout.NoCommand {
		word := strings.ToLower(string(cmd))
		by := audit.Who(ctx, r.APIReader, set, "metadata", "annotations", droverv1.RolloutCommandAnnotation)
		command = &release.Command{Word: word, By: by, ID: set.Status.ObservedRolloutCommand, Step: next.Step}
		if prev != nil && prev.Revision == next.Revision {
			command.Step = prev.Step
		}
		r.event(set, corev1.EventTypeNormal, ReasonRolloutCommand, "Rollout", "%s of revision %s at step %d, set by %s (%s=%q)",
			word, next.Revision, command.Step+1, by, droverv1.RolloutCommandAnnotation, set.Status.ObservedRolloutCommand)
	}
	if prev != nil && !sameRollout(prev, next) &&
		prev.Phase != droverv1.RolloutSucceeded && prev.Phase != droverv1.RolloutRolledBack {
		old, err := r.readRelease(ctx, set, release.Name(set.Name, prev))
		if err != nil {
			return err
		}
		if old != nil {
			if err := r.writeRelease(ctx, set, old, release.Supersede(old, next, s.now)); err != nil {
				return err
			}
		}
	}

	cur, err := r.readRelease(ctx, set, release.Name(set.Name, next))
	if err != nil {
		return err
	}
	return r.saveRelease(ctx, s, cur, next, s.ro.steps, command)
}

// saveRelease folds the rollout state st (of a policy of steps steps) into cur, the
// rollout's Release so far, and writes it when that records something new. A nil cur
// starts the rollout's Release, named after st, with who changed the template, and
// prunes the set's oldest beyond its limit.
func (r *Reconciler) saveRelease(ctx context.Context, s *scope, cur *droverv1.Release, st *droverv1.RolloutStatus, steps int, command *release.Command) error {
	set := s.set
	in := release.Input{
		Rollout: st, Steps: steps, Version: set.Spec.Template.Spec.Version,
		Prods: map[string]release.Prod{}, Command: command, Now: s.now,
	}
	for _, p := range s.prods {
		in.Prods[p.Name] = release.Prod{Cluster: clusterKey(p), Weight: s.summaries[p.Name].DNSWeight()}
	}
	if cur != nil {
		return r.writeRelease(ctx, set, cur, release.Record(cur, in))
	}
	in.StartedBy = audit.Who(ctx, r.APIReader, set, "spec", "template")
	want := release.Record(nil, in)
	want.Name, want.Namespace = release.Name(set.Name, st), set.Namespace
	want.Labels = map[string]string{droverv1.ProdSetNameLabel: set.Name, droverv1.ReleaseLabel: st.Revision}
	want.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(set, droverv1.GroupVersion.WithKind("ProdSet"))}
	want.ProdSet = set.Name
	if err := r.writeRelease(ctx, set, nil, want); err != nil {
		return err
	}
	return r.pruneReleases(ctx, set, want.Name)
}

// atOnceStep names the one step of a set without a RolloutPolicy.
const atOnceStep = "at once"

// recordAtOnce keeps the Release of a set without a RolloutPolicy, whose Prods all move
// to a new template at once: one step, every Prod, Completed once none is behind, or
// Superseded by a newer template. It is written when the template changes (the status's
// currentRevision is not the template's) and when the last Prod catches up (the RolledOut
// condition said Prods were updating, and none is now).
func (r *Reconciler) recordAtOnce(ctx context.Context, first, s *scope) error {
	set := s.set
	prevRev := first.read.Status.CurrentRevision
	started := prevRev != "" && prevRev != s.revision
	rolled := conditions.Get(first.read, droverv1.ProdSetRolledOutCondition)
	caughtUp := s.ro.behind == 0 && rolled != nil && rolled.Reason == droverv1.ProdSetRolloutProgressing
	if !started && !caughtUp {
		return nil
	}
	now := metav1.NewTime(s.now.Truncate(time.Second))
	st := &droverv1.RolloutStatus{Revision: s.revision, Phase: droverv1.RolloutProgressing, StepName: atOnceStep,
		StartedTime: &now, StepStartedTime: &now, Message: fmt.Sprintf("%d Prods updating (no RolloutPolicy: all at once)", s.ro.behind)}
	for _, p := range s.prods {
		st.Prods = append(st.Prods, droverv1.RolloutProdStatus{Name: p.Name, Phase: "Updating"})
	}
	var cur *droverv1.Release
	if started {
		if last := r.releases.last(set.UID); last != nil && !release.Finished(last) && last.Revision != s.revision {
			if err := r.writeRelease(ctx, set, last, release.Supersede(last, st, s.now)); err != nil {
				return err
			}
		}
		st.PreviousRevision = prevRev
	} else {
		var err error
		if cur, err = r.openAtOnceRelease(ctx, set, s.revision); err != nil || cur == nil {
			return err
		}
		st.StartedTime, st.PreviousRevision = &cur.StartedTime, cur.PreviousRevision
	}
	if s.ro.behind == 0 {
		st.Phase, st.Step, st.StepName, st.FinishedTime = droverv1.RolloutSucceeded, 1, "", &now
		st.Message = fmt.Sprintf("every Prod runs revision %s", s.revision)
	}
	return r.saveRelease(ctx, s, cur, st, 1, nil)
}

// openAtOnceRelease is the unfinished Release of set's revision: the one last written,
// or after a restart the newest the API server has.
func (r *Reconciler) openAtOnceRelease(ctx context.Context, set *droverv1.ProdSet, revision string) (*droverv1.Release, error) {
	if last := r.releases.last(set.UID); last != nil && last.Revision == revision && !release.Finished(last) {
		return last, nil
	}
	list := &droverv1.ReleaseList{}
	if err := r.APIReader.List(ctx, list, client.InNamespace(set.Namespace),
		client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name, droverv1.ReleaseLabel: revision}); err != nil {
		return nil, fmt.Errorf("listing the set's Releases: %w", err)
	}
	var open *droverv1.Release
	for i := range list.Items {
		rel := &list.Items[i]
		if metav1.IsControlledBy(rel, set) && !release.Finished(rel) && (open == nil || rel.StartedTime.After(open.StartedTime.Time)) {
			open = rel
		}
	}
	return open, nil
}

// The words of rollout.Next's waiting messages that say a step waits for an approval
// and that a freeze holds the rollout (freeze.Describe).
const (
	awaitingApprovalText = "waiting for approval"
	frozenText           = "frozen by "
)

// rolloutNotices records, once each, that the rollout started waiting for an approval
// and that a Freeze or ClusterFreeze started or stopped holding it: the rollout's status
// message says both, and people (and the notifications that follow these events) need
// to hear of them when they happen.
func (r *Reconciler) rolloutNotices(set *droverv1.ProdSet, prev, next *droverv1.RolloutStatus) {
	if next == nil {
		return
	}
	same := sameRollout(prev, next)
	active := next.Phase == droverv1.RolloutProgressing || next.Phase == droverv1.RolloutPaused
	if active && awaitsApproval(next.Message) && !(same && prev.Step == next.Step && awaitsApproval(prev.Message)) {
		r.event(set, corev1.EventTypeNormal, ReasonAwaitingApproval, "Rollout", "revision %s, step %d (%s): %s; kubectl drover rollout promote %s",
			next.Revision, next.Step+1, next.StepName, next.Message, set.Name)
	}
	frozen := active && strings.Contains(next.Message, frozenText)
	wasFrozen := same && strings.Contains(prev.Message, frozenText)
	switch {
	case frozen && !wasFrozen:
		r.event(set, corev1.EventTypeWarning, ReasonRolloutFrozen, "Rollout", "revision %s: %s", next.Revision, next.Message)
	case !frozen && wasFrozen:
		r.event(set, corev1.EventTypeNormal, ReasonRolloutUnfrozen, "Rollout", "revision %s: no freeze holds the rollout any more", next.Revision)
	}
}

// awaitsApproval reports whether a step's waiting message ("step S: what; what...")
// waits for an approval and nothing else: its other gates passed.
func awaitsApproval(msg string) bool {
	if !strings.Contains(msg, awaitingApprovalText) {
		return false
	}
	for _, part := range strings.Split(msg, "; ") {
		if !strings.Contains(part, awaitingApprovalText) {
			return false
		}
	}
	return true
}

// readRelease is the Release named name of set: the one last written, or else the API
// server's; nil when there is none (or it is another set's).
func (r *Reconciler) readRelease(ctx context.Context, set *droverv1.ProdSet, name string) (*droverv1.Release, error) {
	if rel := r.releases.get(set.UID, name); rel != nil {
		return rel, nil
	}
	rel := &droverv1.Release{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: name}, rel)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading Release %s: %w", name, err)
	case !metav1.IsControlledBy(rel, set):
		return nil, fmt.Errorf("release %s exists and is not the set's: delete it so that the rollout is recorded", name)
	}
	return rel, nil
}

// writeRelease creates want (cur nil) or updates cur to want, when it records something
// new. A conflict forgets what was remembered: the next transition reads it again.
func (r *Reconciler) writeRelease(ctx context.Context, set *droverv1.ProdSet, cur, want *droverv1.Release) error {
	if cur != nil && !release.Changed(cur, want) {
		return nil
	}
	var err error
	if cur == nil {
		err = r.Client.Create(ctx, want)
		if apierrors.IsAlreadyExists(err) {
			r.releases.forget(set.UID)
			return fmt.Errorf("recording the rollout: Release %s was created meanwhile; reading it again", want.Name)
		}
	} else {
		err = r.Client.Update(ctx, want)
	}
	if err != nil {
		r.releases.forget(set.UID)
		return fmt.Errorf("recording the rollout in Release %s: %w", want.Name, err)
	}
	r.releases.put(set.UID, want)
	return nil
}

// pruneReleases deletes the set's oldest Releases beyond spec.releaseHistoryLimit, never
// the current one. It runs when a rollout starts: one list per rollout.
func (r *Reconciler) pruneReleases(ctx context.Context, set *droverv1.ProdSet, current string) error {
	list := &droverv1.ReleaseList{}
	if err := r.APIReader.List(ctx, list, client.InNamespace(set.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name}); err != nil {
		return fmt.Errorf("listing the set's Releases: %w", err)
	}
	owned := list.Items[:0]
	for _, rel := range list.Items {
		if metav1.IsControlledBy(&rel, set) {
			owned = append(owned, rel)
		}
	}
	keep := int(ptr.Deref(set.Spec.ReleaseHistoryLimit, droverv1.DefaultReleaseHistoryLimit))
	for _, old := range release.Prune(owned, keep, current) {
		if err := r.Client.Delete(ctx, &old, client.Preconditions{UID: &old.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the old Release %s: %w", old.Name, err)
		}
	}
	return nil
}
