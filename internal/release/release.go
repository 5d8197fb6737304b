// Package release keeps the record of a ProdSet's rollouts: a Release object per
// rollout, holding who started it, each step with its Prods, their weights and the
// gates' verdicts, the commands given, and how it ended. Record is pure: it folds the
// rollout's state after a reconcile into the record so far. The ProdSet controller
// writes the result when it changed, which is at a rollout's transitions only.
package release

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/textcut"
)

// MaxCommands is how many commands a Release keeps, the latest.
const MaxCommands = 32

// maxMessage is the longest message a Release keeps, in bytes; maxCommandID the longest
// command id (the CRD's limits).
const (
	maxMessage   = 2048
	maxCommandID = 256
)

// Prod is what the record needs of one Prod of the set.
type Prod struct {
	// Cluster is namespace/name of its Cluster.
	Cluster string
	// Weight is the weight DNS gives it (droverv1.ProdSummary.DNSWeight).
	Weight int32
}

// Command is a rollout command read in this reconcile.
type Command struct {
	// Word is the command: pause, resume, promote, abort or rollback.
	Word string
	// By is the field manager that set the annotation.
	By string
	// ID is the annotation's value: a command is recorded once per value.
	ID string
	// Step is the step the rollout was at when the command was read.
	Step int32
}

// Input is what one reconcile knows of a rollout.
type Input struct {
	// Rollout is the set's rollout state after the reconcile.
	Rollout *droverv1.RolloutStatus
	// Steps is how many steps the policy has.
	Steps int
	// Version is the template's spec.version.
	Version string
	// StartedBy is who changed the template, asked only when a Release is created.
	StartedBy string
	// Prods of the set by name.
	Prods map[string]Prod
	// Command acted on in this reconcile, if any.
	Command *Command
	// Now is the reconcile's time.
	Now time.Time
}

// Name is the name of the Release of a rollout of set: the set, the revision and the
// rollout's start (a revision rolled out again, after a rollback, is a new Release).
func Name(set string, st *droverv1.RolloutStatus) string {
	var started int64
	if st.StartedTime != nil {
		started = st.StartedTime.Unix()
	}
	return fmt.Sprintf("%s-%s-%d", set, st.Revision, started)
}

// Record returns the Release prev becomes with what in says; prev is not changed. A nil
// prev starts a new record, whose metadata the caller fills in.
func Record(prev *droverv1.Release, in Input) *droverv1.Release {
	st := in.Rollout
	rel := &droverv1.Release{}
	if prev != nil {
		rel = prev.DeepCopy()
	} else {
		rel.StartedBy = in.StartedBy
		rel.Version = in.Version
		rel.StartedTime = metav1.NewTime(in.Now.Truncate(time.Second))
		if st.StartedTime != nil {
			rel.StartedTime = *st.StartedTime
		}
	}
	now := metav1.NewTime(in.Now.Truncate(time.Second))
	rel.Revision, rel.PreviousRevision, rel.Policy = st.Revision, st.PreviousRevision, st.Policy
	rel.Phase = st.Phase
	rel.Message = textcut.Bytes(st.Message, maxMessage)
	rel.FinishedTime = st.FinishedTime
	rel.RollbackLatency = st.RollbackLatency

	if c := in.Command; c != nil {
		// The annotation's value is unbounded; the Release keeps 256 bytes of it.
		if id := textcut.Bytes(c.ID, maxCommandID); len(rel.Commands) == 0 || rel.Commands[len(rel.Commands)-1].ID != id {
			rel.Commands = append(rel.Commands, droverv1.ReleaseCommand{Command: c.Word, By: c.By, ID: id, Time: now, Step: c.Step})
		}
		if n := len(rel.Commands) - MaxCommands; n > 0 {
			rel.Commands = slices.Delete(rel.Commands, 0, n)
		}
	}

	switch st.Phase {
	case droverv1.RolloutSucceeded:
		if rel.Outcome == "" || rel.Outcome == droverv1.ReleaseSuperseded {
			rel.Outcome = droverv1.ReleaseCompleted
		}
	case droverv1.RolloutRollingBack, droverv1.RolloutRolledBack:
		if rel.Outcome != droverv1.ReleaseRolledBack && rel.Outcome != droverv1.ReleaseAborted {
			rel.Outcome, rel.EndedBy = droverv1.ReleaseRolledBack, ""
			if c := in.Command; c != nil && (c.Word == "abort" || c.Word == "rollback") {
				rel.EndedBy = c.By
				if c.Word == "abort" {
					rel.Outcome = droverv1.ReleaseAborted
				}
			}
		}
	default:
		rel.Outcome, rel.EndedBy = "", ""
	}

	// Steps reached: every index up to the current one; past the last once it passed.
	ended := st.Phase != droverv1.RolloutProgressing && st.Phase != droverv1.RolloutPaused
	current := int(st.Step)
	last := min(current, in.Steps-1)
	for i := len(rel.Steps); i <= last; i++ {
		started := now
		if i == current && st.StepStartedTime != nil {
			started = *st.StepStartedTime
		}
		rel.Steps = append(rel.Steps, droverv1.ReleaseStep{Index: int32(i), StartedTime: started})
	}
	for i := range rel.Steps {
		step := &rel.Steps[i]
		if step.FinishedTime != nil {
			continue // kept as it was when it finished
		}
		closing := int(step.Index) < current || ended
		step.Name = stepName(st, step)
		step.Prods = stepProds(st, step.Index, in.Prods, closing)
		step.Gates = stepGates(st, step.Index)
		if closing {
			step.FinishedTime = &now
		}
	}
	return rel
}

// Supersede ends the record of a rollout a newer template replaced before it finished.
func Supersede(prev *droverv1.Release, by *droverv1.RolloutStatus, now time.Time) *droverv1.Release {
	rel := prev.DeepCopy()
	t := metav1.NewTime(now.Truncate(time.Second))
	if rel.Outcome == "" {
		rel.Outcome = droverv1.ReleaseSuperseded
		rel.Message = textcut.Bytes("superseded by revision "+by.Revision, maxMessage)
		rel.FinishedTime = &t
	}
	for i := range rel.Steps {
		if rel.Steps[i].FinishedTime == nil {
			rel.Steps[i].FinishedTime = &t
		}
	}
	return rel
}

// Changed reports whether b records anything a does not (metadata aside).
func Changed(a, b *droverv1.Release) bool {
	if a == nil || b == nil {
		return a != b
	}
	x, y := a.DeepCopy(), b.DeepCopy()
	x.ObjectMeta, y.ObjectMeta = metav1.ObjectMeta{}, metav1.ObjectMeta{}
	x.TypeMeta, y.TypeMeta = metav1.TypeMeta{}, metav1.TypeMeta{}
	return !equality.Semantic.DeepEqual(x, y)
}

// Finished reports whether the record is of a rollout that ended.
func Finished(rel *droverv1.Release) bool {
	return rel.Outcome != "" && rel.FinishedTime != nil
}

// Prune returns the Releases to delete so that keep remain, the oldest first; the one
// named current is never among them.
func Prune(list []droverv1.Release, keep int, current string) []droverv1.Release {
	others := make([]droverv1.Release, 0, len(list))
	for _, r := range list {
		if r.Name != current {
			others = append(others, r)
		}
	}
	sort.SliceStable(others, func(i, j int) bool {
		a, b := others[i].StartedTime, others[j].StartedTime
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return others[i].Name < others[j].Name
	})
	if n := len(others) - (keep - 1); n > 0 {
		return others[:n]
	}
	return nil
}

func stepName(st *droverv1.RolloutStatus, step *droverv1.ReleaseStep) string {
	if step.Index == st.Step && st.StepName != "" {
		return st.StepName
	}
	for _, g := range st.Gates {
		if g.Step == step.Index && g.StepName != "" {
			return g.StepName
		}
	}
	return step.Name
}

// stepProds are the Prods the step picked; with their weights once it is closing (DNS
// gives weights that move while it runs, and recording each move would write the
// record on every one).
func stepProds(st *droverv1.RolloutStatus, step int32, prods map[string]Prod, closing bool) []droverv1.ReleaseProd {
	var out []droverv1.ReleaseProd
	for _, p := range st.Prods {
		if p.Step != step {
			continue
		}
		rp := droverv1.ReleaseProd{Name: p.Name, Cluster: prods[p.Name].Cluster, Replacement: p.Replacement, Failed: p.Failed}
		if closing {
			w := prods[p.Name].Weight
			if p.Replacement != "" {
				w = prods[p.Replacement].Weight
			}
			rp.Weight = &w
		}
		out = append(out, rp)
	}
	return out
}

func stepGates(st *droverv1.RolloutStatus, step int32) []droverv1.GateOutcome {
	var out []droverv1.GateOutcome
	for _, g := range st.Gates {
		if g.Step == step {
			out = append(out, g)
		}
	}
	return out
}
