package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/builder"
)

// TestStatusAndRolloutCommands follows a release through the plugin: the tree in each
// format, commands refused when they do not apply, a dry run that changes nothing,
// pause (seen by status --watch), promote while paused, resume to the end, and --force.
func TestStatusAndRolloutCommands(t *testing.T) {
	startBed(t)
	g := NewWithT(t)
	ctx := t.Context()
	policy := builder.RolloutPolicy(bed.Namespace, "shop-canary", droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{
		{Name: "canary", Count: ptr.To(intstr.FromInt32(1)), Weight: ptr.To(int32(10)),
			Gates: []droverv1.Gate{{Approval: &droverv1.ApprovalGate{Message: "look at the dashboards"}}}},
		{Name: "rest"},
	}})
	g.Expect(cp.Create(ctx, policy)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), policy) })
	newSet(t, "shop", "shop", 2, builder.Policy(policy.Name))
	expectServing(g, "shop", 2)
	g.Eventually(func(g Gomega) {
		g.Expect(getSet(g, "shop").Status.Rollout).To(HaveField("Phase", droverv1.RolloutSucceeded))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

	// The tree, JSON and YAML of the settled set.
	out, err := kubectlDrover(t, "status", "shop")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("ProdSet default/shop  version v1  revision "))
	g.Expect(out).To(ContainSubstring("│ replicas 2: 2 available, 2 serving (minimum 1)"))
	g.Expect(out).To(ContainSubstring("│ rollout Succeeded  policy shop-canary"))
	g.Expect(out).To(MatchRegexp(`├─ shop-a  a  v1 \(\w{10}\)  100/100  R✓ Ap✓ Av✓ T✓ M-\n`))
	g.Expect(out).To(MatchRegexp(`└─ shop-b  b  v1 \(\w{10}\)  100/100  R✓ Ap✓ Av✓ T✓ M-\n`))
	g.Expect(out).To(ContainSubstring(legend))

	for _, format := range []string{"json", "yaml"} {
		out, err := kubectlDrover(t, "status", "shop", "-o", format)
		g.Expect(err).NotTo(HaveOccurred())
		var v StatusView
		if format == "json" {
			g.Expect(json.Unmarshal([]byte(out), &v)).To(Succeed())
		} else {
			g.Expect(yaml.UnmarshalStrict([]byte(out), &v)).To(Succeed())
		}
		g.Expect(v.ProdSets).To(HaveLen(1))
		s := v.ProdSets[0]
		g.Expect(s.Name).To(Equal("shop"))
		g.Expect(s.Rollout).To(HaveField("Phase", "Succeeded"))
		g.Expect(s.Rollout.Steps).To(Equal(2))
		g.Expect(s.Prods).To(HaveLen(2))
		for _, p := range s.Prods {
			g.Expect(*p.PublishedWeight).To(BeEquivalentTo(100))
			g.Expect(p.Conditions).To(ContainElement(HaveField("Type", "Available")))
		}
	}

	// Commands that do not apply to a finished InPlace rollout are refused; nothing is written.
	for _, verb := range []string{"resume", "pause", "promote", "abort", "rollback"} {
		out, err := kubectlDrover(t, "rollout", verb, "shop")
		var ref *refusedError
		g.Expect(errors.As(err, &ref)).To(BeTrue(), "%s: %v", verb, err)
		if verb == "rollback" {
			g.Expect(err.Error()).To(ContainSubstring("the InPlace strategy keeps none"))
		} else {
			g.Expect(err.Error()).To(ContainSubstring("no rollout is in progress"))
		}
		g.Expect(out).To(ContainSubstring("ProdSet default/shop: rollout of "))
	}
	g.Expect(getSet(g, "shop").Annotations).NotTo(HaveKey(droverv1.RolloutCommandAnnotation))

	// A release stops at the canary's approval.
	updateSet(g, "shop", func(s *droverv1.ProdSet) { s.Spec.Template.Spec.Version = "v2" })
	g.Eventually(func(g Gomega) {
		ro := getSet(g, "shop").Status.Rollout
		g.Expect(ro).To(HaveField("Phase", droverv1.RolloutProgressing))
		g.Expect(ro.Message).To(ContainSubstring("waiting for approval"))
		g.Expect(ro.Prods).To(ConsistOf(HaveField("Phase", droverv1.RolloutProdPhase("Done"))))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	canary := getSet(g, "shop").Status.Rollout.Prods[0].Name
	g.Eventually(func(g Gomega) {
		out, err := kubectlDrover(t, "status", "shop")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out).To(ContainSubstring("version v2"))
		g.Expect(out).To(ContainSubstring("│ rollout Progressing  step 1/2 canary  policy shop-canary\n"))
		g.Expect(out).To(ContainSubstring("│   waits for: step canary: gate 1 (approval): waiting for approval (promote): look at the dashboards\n"))
		g.Expect(out).To(ContainSubstring("│   gate 1 approval: waiting\n"))
		g.Expect(out).To(MatchRegexp(canary + `  \w  v2 \(\w{10}\)  10/10\s+R✓ Ap✓ Av✓ T✓ M-  rollout Done\n`))
	}, 10*time.Second, 500*time.Millisecond).Should(Succeed())

	// status --watch appends a new tree when something changes (stdout is no terminal).
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchOut := &syncBuffer{}
	watchErr := make(chan error, 1)
	go func() { watchErr <- runCommand(watchCtx, watchOut, "status", "shop", "--watch") }()
	g.Eventually(watchOut.String, 10*time.Second).Should(ContainSubstring("rollout Progressing"))

	// A dry run says what pause would do and writes nothing.
	out, err = kubectlDrover(t, "rollout", "pause", "shop", "--dry-run")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("pause: the rollout goes to Paused at step 1 (canary)"))
	g.Expect(out).To(ContainSubstring("dry run: would set drover.dev/rollout-command=pause@"))
	g.Expect(getSet(g, "shop").Annotations).NotTo(HaveKey(droverv1.RolloutCommandAnnotation))

	// pause, and wait for drover to read it.
	out, err = kubectlDrover(t, "rollout", "pause", "shop", "--wait")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("set drover.dev/rollout-command=pause@"))
	g.Expect(out).To(MatchRegexp(`drover read pause@\S+; rollout now: rollout of \w+ \(from \w+\) is Paused at step 1 canary: paused by request`))
	set := getSet(g, "shop")
	g.Expect(set.Annotations[droverv1.RolloutCommandAnnotation]).To(HavePrefix("pause@"))
	g.Expect(set.Status.Rollout.Phase).To(Equal(droverv1.RolloutPaused))

	g.Eventually(watchOut.String, 10*time.Second).Should(ContainSubstring("│ rollout Paused  step 1/2 canary"))
	stopWatch()
	g.Expect(<-watchErr).NotTo(HaveOccurred())
	g.Expect(watchOut.String()).To(MatchRegexp(`(?s)rollout Progressing.*\n--- \S+\nProdSet default/shop.*rollout Paused`))
	g.Expect(watchOut.String()).NotTo(ContainSubstring(clearScreen), "no ANSI codes when stdout is not a terminal")

	// pause again is refused; promote while paused says it waits for resume.
	_, err = kubectlDrover(t, "rollout", "pause", "shop")
	g.Expect(err).To(MatchError(ContainSubstring("already Paused")))
	out, err = kubectlDrover(t, "rollout", "promote", "shop", "--wait")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("promote: the gates of step 1 (canary) that have not passed pass (gate 1 approval); the rollout is Paused, so this takes effect after resume"))
	g.Expect(getSet(g, "shop").Status.Rollout.Promoted).To(BeTrue())
	out, err = kubectlDrover(t, "status", "shop")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("promoted: the step's gates pass when reached"))

	// resume: the rollout passes the canary and ends.
	out, err = kubectlDrover(t, "rollout", "resume", "shop")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("resume: the rollout goes back to Progressing at step 1 (canary)"))
	g.Eventually(func(g Gomega) {
		set := getSet(g, "shop")
		g.Expect(set.Status.Rollout.Phase).To(Equal(droverv1.RolloutSucceeded))
		for _, p := range set.Status.Prods {
			g.Expect(p.Version).To(Equal("v2"))
		}
	}, 90*time.Second, 200*time.Millisecond).Should(Succeed())

	// --force sends a command the status says does not apply; drover reads and ignores it.
	out, err = kubectlDrover(t, "rollout", "resume", "shop", "--force", "--wait")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("sending it anyway (--force)"))
	g.Expect(out).To(ContainSubstring("is Succeeded"))
	set = getSet(g, "shop")
	g.Expect(set.Annotations[droverv1.RolloutCommandAnnotation]).To(HavePrefix("resume@"))
	g.Expect(set.Status.ObservedRolloutCommand).To(Equal(set.Annotations[droverv1.RolloutCommandAnnotation]))
	g.Expect(set.Status.Rollout.Phase).To(Equal(droverv1.RolloutSucceeded))

	// No such set.
	_, err = kubectlDrover(t, "rollout", "promote", "nope")
	g.Expect(err).To(MatchError(ContainSubstring("ProdSet nope not found in namespace default")))
	_, err = kubectlDrover(t, "status", "nope")
	g.Expect(err).To(MatchError(ContainSubstring("ProdSet nope not found")))
	_, err = kubectlDrover(t, "status", "-o", "wide")
	g.Expect(err).To(MatchError(ContainSubstring(`--output "wide" is not supported here; use json or yaml`)))
	g.Expect(strings.Count(out, "\n")).To(BeNumerically(">", 0))
}
