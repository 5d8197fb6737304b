package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// history against the test bed: the set's Releases newest first, one of them step by
// step, as JSON; a Release that only carries the set's label is not the set's and is not
// shown, and what a tenant wrote cannot reach the terminal as an escape sequence.
func TestHistoryCommand(t *testing.T) {
	startBed(t)
	g := NewWithT(t)
	set := newSet(t, "chronicle", "shop", 1)
	owner := []metav1.OwnerReference{*metav1.NewControllerRef(set, droverv1.GroupVersion.WithKind("ProdSet"))}
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	mk := func(name, rev, version string, started time.Time, owners []metav1.OwnerReference, mutate func(*droverv1.Release)) {
		rel := &droverv1.Release{
			ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: name, OwnerReferences: owners,
				Labels: map[string]string{droverv1.ProdSetNameLabel: "chronicle", droverv1.ReleaseLabel: rev}},
			ProdSet: "chronicle", Revision: rev, Version: version, StartedTime: metav1.NewTime(started), Phase: droverv1.RolloutProgressing,
		}
		mutate(rel)
		g.Expect(cp.Create(t.Context(), rel)).To(Succeed())
	}
	mk("chronicle-aaaa1111-1", "aaaa1111", "v1", start, owner, func(r *droverv1.Release) {
		r.Phase, r.Outcome, r.StartedBy = droverv1.RolloutSucceeded, droverv1.ReleaseCompleted, "argocd-controller"
		r.FinishedTime = ptr.To(metav1.NewTime(start.Add(90 * time.Second)))
		r.Steps = []droverv1.ReleaseStep{{Index: 0, Name: "canary", StartedTime: metav1.NewTime(start), FinishedTime: ptr.To(metav1.NewTime(start.Add(time.Minute))),
			Prods: []droverv1.ReleaseProd{{Name: "chronicle-eu-1", Cluster: "fleet/eu-1", Weight: ptr.To[int32](100)}},
			Gates: []droverv1.GateOutcome{{Step: 0, Gate: 0, Type: "httpCheck", Passed: true, Message: "3/3 checks answered 200", Time: metav1.NewTime(start.Add(time.Minute))}}}}
	})
	mk("chronicle-bbbb2222-2", "bbbb2222", "v2\x1b]0;owned\x07", start.Add(time.Hour), owner, func(r *droverv1.Release) {
		r.Phase, r.Outcome, r.EndedBy, r.StartedBy = droverv1.RolloutRolledBack, droverv1.ReleaseAborted, "kubectl-drover", "kubectl-edit"
		r.Message = "rolled back to aaaa1111: abort requested"
		r.FinishedTime = ptr.To(metav1.NewTime(start.Add(time.Hour + 2*time.Minute)))
		r.Commands = []droverv1.ReleaseCommand{{Command: "abort", By: "kubectl-drover", Time: metav1.NewTime(start.Add(time.Hour + time.Minute)), Step: 0}}
	})
	mk("chronicle-forged", "cccc3333", "v3", start.Add(2*time.Hour), nil, func(*droverv1.Release) {})

	out, err := kubectlDrover(t, "history", "chronicle")
	g.Expect(err).NotTo(HaveOccurred())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	g.Expect(lines).To(HaveLen(3), "a header and the set's two Releases, not the one without its owner")
	g.Expect(lines[1]).To(And(ContainSubstring("bbbb2222"), ContainSubstring("Aborted by kubectl-drover"), ContainSubstring("2m0s"), ContainSubstring("kubectl-edit")))
	g.Expect(lines[2]).To(And(ContainSubstring("aaaa1111"), ContainSubstring("Completed"), ContainSubstring("argocd-controller")))
	g.Expect(out).NotTo(ContainSubstring("\x1b"), "a tenant's version reaches the terminal without its escape")
	g.Expect(out).NotTo(ContainSubstring("cccc3333"))

	out, err = kubectlDrover(t, "history", "chronicle", "aaaa")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(And(ContainSubstring("step 1 canary"), ContainSubstring("prod chronicle-eu-1 on fleet/eu-1, weight 100"),
		ContainSubstring("gate 1 httpCheck: ✓ passed"), ContainSubstring("3/3 checks answered 200")))

	_, err = kubectlDrover(t, "history", "chronicle", "cccc3333")
	g.Expect(err).To(MatchError(ContainSubstring(`no Release of revision or name "cccc3333"`)))
	_, err = kubectlDrover(t, "history", "nothing-here")
	g.Expect(err).To(MatchError(ContainSubstring("not found")))

	out, err = kubectlDrover(t, "history", "chronicle", "-o", "json")
	g.Expect(err).NotTo(HaveOccurred())
	var v HistoryView
	g.Expect(json.Unmarshal([]byte(out), &v)).To(Succeed())
	g.Expect(v.Releases).To(HaveLen(2))
	g.Expect(v.Releases[0].Commands).To(ConsistOf(HaveField("By", "kubectl-drover")))
	g.Expect(v.Releases[1].Steps[0].Prods[0].Weight).To(HaveValue(Equal(int32(100))))
}
