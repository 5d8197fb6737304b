package release

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func at(sec int) *metav1.Time {
	t := metav1.NewTime(t0.Add(time.Duration(sec) * time.Second))
	return &t
}

func weightOf(p droverv1.ReleaseProd) string {
	if p.Weight == nil {
		return p.Name + "@-"
	}
	return fmt.Sprintf("%s@%d", p.Name, *p.Weight)
}

func steps(rel *droverv1.Release) string {
	var out []string
	for _, s := range rel.Steps {
		var prods []string
		for _, p := range s.Prods {
			prods = append(prods, weightOf(p))
		}
		end := "open"
		if s.FinishedTime != nil {
			end = fmt.Sprint(s.FinishedTime.Sub(t0).Seconds())
		}
		out = append(out, fmt.Sprintf("%d:%s[%s]g%d %v-%s", s.Index, s.Name, strings.Join(prods, " "), len(s.Gates), s.StartedTime.Sub(t0).Seconds(), end))
	}
	return strings.Join(out, "; ")
}

// TestRecordFollowsARollout folds a rollout's states, reconcile by reconcile, into its
// record: steps open and close with their Prods and gates, weights are taken when a
// step ends, commands are kept once each with who gave them, and the outcome says how
// it ended.
func TestRecordFollowsARollout(t *testing.T) {
	prods := map[string]Prod{
		"web-a": {Cluster: "fleet/eu-1", Weight: 100}, "web-b": {Cluster: "fleet/us-1", Weight: 0}, "web-c": {Cluster: "fleet/us-2", Weight: 100},
	}
	st := &droverv1.RolloutStatus{Revision: "r2", PreviousRevision: "r1", Policy: "canary", Phase: droverv1.RolloutProgressing,
		Step: 0, StepName: "canary", StartedTime: at(0), StepStartedTime: at(0),
		Prods: []droverv1.RolloutProdStatus{{Name: "web-a", Step: 0, Phase: "Updating"}}}
	rel := Record(nil, Input{Rollout: st, Steps: 2, Version: "v2", StartedBy: "argocd-controller", Prods: prods, Now: t0})
	if rel.StartedBy != "argocd-controller" || rel.Version != "v2" || !rel.StartedTime.Equal(at(0)) || rel.Outcome != "" {
		t.Fatalf("new record = %+v", rel)
	}
	if got, want := steps(rel), "0:canary[web-a@-]g0 0-open"; got != want {
		t.Errorf("steps = %q, want %q", got, want)
	}
	if Changed(rel, Record(rel, Input{Rollout: st, Steps: 2, Prods: prods, Now: t0.Add(time.Second)})) {
		t.Error("the same state recorded again changed the record")
	}

	// Waiting for approval, then promoted by a person: the command is kept once.
	st = st.DeepCopy()
	st.Gates = []droverv1.GateOutcome{{Step: 0, StepName: "canary", Gate: 0, Type: "approval", Passed: true, Time: *at(60)}}
	promote := &Command{Word: "promote", By: "kubectl-drover", ID: "promote@1", Step: 0}
	rel = Record(rel, Input{Rollout: st, Steps: 2, Prods: prods, Command: promote, Now: t0.Add(60 * time.Second)})
	rel = Record(rel, Input{Rollout: st, Steps: 2, Prods: prods, Command: promote, Now: t0.Add(61 * time.Second)})
	if len(rel.Commands) != 1 || rel.Commands[0].By != "kubectl-drover" || rel.Commands[0].Step != 0 {
		t.Errorf("commands = %+v, want the promote once, by kubectl-drover at step 0", rel.Commands)
	}

	// Step 1 starts: step 0 closes with the weights DNS gives its Prods then.
	st = st.DeepCopy()
	st.Step, st.StepName, st.StepStartedTime = 1, "rest", at(70)
	st.Prods = append(st.Prods, droverv1.RolloutProdStatus{Name: "web-b", Step: 1, Phase: "Draining"}, droverv1.RolloutProdStatus{Name: "web-c", Step: 1, Phase: "Draining"})
	rel = Record(rel, Input{Rollout: st, Steps: 2, Prods: prods, Now: t0.Add(70 * time.Second)})
	if got, want := steps(rel), "0:canary[web-a@100]g1 0-70; 1:rest[web-b@- web-c@-]g0 70-open"; got != want {
		t.Errorf("steps = %q, want %q", got, want)
	}
	// A closed step keeps what it had when it closed.
	prods["web-a"] = Prod{Cluster: "fleet/eu-1", Weight: 5}
	rel = Record(rel, Input{Rollout: st, Steps: 2, Prods: prods, Now: t0.Add(80 * time.Second)})
	if !strings.HasPrefix(steps(rel), "0:canary[web-a@100]") {
		t.Errorf("a closed step changed: %q", steps(rel))
	}

	// A gate fails: rolling back, then rolled back; the failure's message is the why.
	st = st.DeepCopy()
	st.Phase, st.Message = droverv1.RolloutRollingBack, "gate 0 of step rest failed: error rate 7%"
	st.Gates = append(st.Gates, droverv1.GateOutcome{Step: 1, StepName: "rest", Gate: 0, Type: "prometheus", Passed: false, Time: *at(90)})
	rel = Record(rel, Input{Rollout: st, Steps: 2, Prods: prods, Now: t0.Add(90 * time.Second)})
	if rel.Outcome != droverv1.ReleaseRolledBack || rel.EndedBy != "" || !strings.Contains(rel.Message, "error rate") {
		t.Errorf("after a failed gate: outcome %q by %q, message %q", rel.Outcome, rel.EndedBy, rel.Message)
	}
	if got, want := steps(rel), "0:canary[web-a@100]g1 0-70; 1:rest[web-b@0 web-c@100]g1 70-90"; got != want {
		t.Errorf("steps = %q, want %q", got, want)
	}
	st = st.DeepCopy()
	st.Phase, st.FinishedTime = droverv1.RolloutRolledBack, at(95)
	rel = Record(rel, Input{Rollout: st, Steps: 2, Prods: prods, Now: t0.Add(95 * time.Second)})
	if !Finished(rel) || rel.Phase != droverv1.RolloutRolledBack || rel.Outcome != droverv1.ReleaseRolledBack {
		t.Errorf("rolled back: %+v", rel)
	}
}

func TestRecordOutcomes(t *testing.T) {
	base := &droverv1.RolloutStatus{Revision: "r2", Phase: droverv1.RolloutProgressing, StartedTime: at(0), StepStartedTime: at(0)}
	for _, tt := range []struct {
		name    string
		phase   droverv1.RolloutPhase
		cmd     *Command
		outcome droverv1.ReleaseOutcome
		by      string
	}{
		{"progressing", droverv1.RolloutProgressing, nil, "", ""},
		{"paused by a person", droverv1.RolloutPaused, &Command{Word: "pause", By: "kubectl-drover", ID: "pause@1"}, "", ""},
		{"completed", droverv1.RolloutSucceeded, nil, droverv1.ReleaseCompleted, ""},
		{"rolled back by a gate", droverv1.RolloutRollingBack, nil, droverv1.ReleaseRolledBack, ""},
		{"rolled back by a person", droverv1.RolloutRollingBack, &Command{Word: "rollback", By: "kubectl-drover", ID: "rollback@1"}, droverv1.ReleaseRolledBack, "kubectl-drover"},
		{"aborted", droverv1.RolloutRollingBack, &Command{Word: "abort", By: "argocd-server", ID: "abort@1"}, droverv1.ReleaseAborted, "argocd-server"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := base.DeepCopy()
			st.Phase = tt.phase
			rel := Record(Record(nil, Input{Rollout: base, Steps: 3, Now: t0}), Input{Rollout: st, Steps: 3, Command: tt.cmd, Now: t0.Add(time.Minute)})
			if rel.Outcome != tt.outcome || rel.EndedBy != tt.by {
				t.Errorf("outcome %q by %q, want %q by %q", rel.Outcome, rel.EndedBy, tt.outcome, tt.by)
			}
			open := rel.Steps[len(rel.Steps)-1].FinishedTime == nil
			if wantOpen := tt.phase == droverv1.RolloutProgressing || tt.phase == droverv1.RolloutPaused; open != wantOpen {
				t.Errorf("last step open = %v, want %v", open, wantOpen)
			}
		})
	}
	// An abort's outcome stays once the rollback finishes, and a later reconcile without
	// the command does not lose who gave it.
	st := base.DeepCopy()
	st.Phase = droverv1.RolloutRollingBack
	rel := Record(nil, Input{Rollout: st, Steps: 3, Command: &Command{Word: "abort", By: "kubectl-drover", ID: "abort@1"}, Now: t0})
	st.Phase, st.FinishedTime = droverv1.RolloutRolledBack, at(10)
	rel = Record(rel, Input{Rollout: st, Steps: 3, Now: t0.Add(10 * time.Second)})
	if rel.Outcome != droverv1.ReleaseAborted || rel.EndedBy != "kubectl-drover" {
		t.Errorf("after the rollback finished: %q by %q", rel.Outcome, rel.EndedBy)
	}
}

func TestRecordSkippedStepsAndSuccess(t *testing.T) {
	st := &droverv1.RolloutStatus{Revision: "r2", Phase: droverv1.RolloutProgressing, Step: 0, StepName: "a", StartedTime: at(0), StepStartedTime: at(0)}
	rel := Record(nil, Input{Rollout: st, Steps: 3, Now: t0})
	st = st.DeepCopy()
	st.Phase, st.Step, st.StepName, st.FinishedTime = droverv1.RolloutSucceeded, 3, "", at(30)
	rel = Record(rel, Input{Rollout: st, Steps: 3, Now: t0.Add(30 * time.Second)})
	if got, want := steps(rel), "0:a[]g0 0-30; 1:[]g0 30-30; 2:[]g0 30-30"; got != want {
		t.Errorf("steps = %q, want %q", got, want)
	}
	if rel.Outcome != droverv1.ReleaseCompleted || !Finished(rel) {
		t.Errorf("outcome %q, finished %v", rel.Outcome, Finished(rel))
	}
}

func TestSupersede(t *testing.T) {
	st := &droverv1.RolloutStatus{Revision: "r2", Phase: droverv1.RolloutPaused, Step: 1, StartedTime: at(0), StepStartedTime: at(0)}
	rel := Record(nil, Input{Rollout: st, Steps: 3, Now: t0})
	rel = Supersede(rel, &droverv1.RolloutStatus{Revision: "r3"}, t0.Add(time.Minute))
	if rel.Outcome != droverv1.ReleaseSuperseded || !Finished(rel) || !strings.Contains(rel.Message, "r3") {
		t.Errorf("superseded: %+v", rel)
	}
	for _, s := range rel.Steps {
		if s.FinishedTime == nil {
			t.Errorf("step %d left open", s.Index)
		}
	}
}

func TestCommandsAreBounded(t *testing.T) {
	st := &droverv1.RolloutStatus{Revision: "r2", Phase: droverv1.RolloutPaused, StartedTime: at(0)}
	var rel *droverv1.Release
	for i := range MaxCommands + 5 {
		rel = Record(rel, Input{Rollout: st, Steps: 1, Command: &Command{Word: "pause", ID: fmt.Sprint("pause@", i)}, Now: t0})
	}
	if len(rel.Commands) != MaxCommands || rel.Commands[0].ID != "pause@5" || rel.Commands[MaxCommands-1].ID != fmt.Sprint("pause@", MaxCommands+4) {
		t.Errorf("%d commands, first %q: want the latest %d", len(rel.Commands), rel.Commands[0].ID, MaxCommands)
	}
}

// An annotation value longer than the CRD's 256 bytes for commands[].id is kept cut, and
// still recorded once.
func TestCommandIDIsBounded(t *testing.T) {
	st := &droverv1.RolloutStatus{Revision: "r2", Phase: droverv1.RolloutPaused, StartedTime: at(0)}
	long := &Command{Word: "pause", ID: "pause@" + strings.Repeat("é", 300)}
	rel := Record(nil, Input{Rollout: st, Steps: 1, Command: long, Now: t0})
	rel = Record(rel, Input{Rollout: st, Steps: 1, Command: long, Now: t0})
	if len(rel.Commands) != 1 || len(rel.Commands[0].ID) > maxCommandID || !strings.HasPrefix(long.ID, rel.Commands[0].ID) || strings.ContainsRune(rel.Commands[0].ID, '\uFFFD') {
		t.Errorf("%d commands, the id of %d bytes", len(rel.Commands), len(rel.Commands[0].ID))
	}
}

func TestMessageIsBounded(t *testing.T) {
	st := &droverv1.RolloutStatus{Revision: "r2", Phase: droverv1.RolloutPaused, StartedTime: at(0), Message: strings.Repeat("é", 3000)}
	rel := Record(nil, Input{Rollout: st, Steps: 1, Now: t0})
	if len(rel.Message) > maxMessage || !strings.HasPrefix(st.Message, rel.Message) || strings.ContainsRune(rel.Message, '\uFFFD') {
		t.Errorf("message of %d bytes", len(rel.Message))
	}
}

func TestPrune(t *testing.T) {
	var list []droverv1.Release
	for i := range 5 {
		r := droverv1.Release{StartedTime: *at(i)}
		r.Name = fmt.Sprint("r", i)
		list = append(list, r)
	}
	names := func(rs []droverv1.Release) string {
		var n []string
		for _, r := range rs {
			n = append(n, r.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names(Prune(list, 3, "r4")); got != "r0,r1" {
		t.Errorf("Prune keep 3 = %q, want r0,r1", got)
	}
	if got := names(Prune(list, 1, "r0")); got != "r1,r2,r3,r4" {
		t.Errorf("Prune keep 1 = %q: the current one stays whatever its age", got)
	}
	if got := Prune(list, 10, "r4"); got != nil {
		t.Errorf("Prune under the limit = %v", names(got))
	}
}

func TestName(t *testing.T) {
	if got := Name("web", &droverv1.RolloutStatus{Revision: "6d5f7c9b8", StartedTime: at(0)}); got != fmt.Sprintf("web-6d5f7c9b8-%d", t0.Unix()) {
		t.Errorf("Name = %q", got)
	}
}
