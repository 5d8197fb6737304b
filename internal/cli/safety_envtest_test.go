package cli

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/builder"
)

// override-safety against the test bed: a retirement that maxSharePercent holds shows in
// status, a reason that cannot be one is refused before anything is written, and the
// override lets the retirement through until --clear takes it away.
func TestOverrideSafetyCommand(t *testing.T) {
	startBed(t)
	g := NewWithT(t)
	newSet(t, "capped", "shop", 2, builder.Mutate(func(s *droverv1.ProdSet) {
		s.Spec.Safety = &droverv1.SafetyRules{MaxSharePercent: ptr.To[int32](50)}
	}))
	expectServing(g, "capped", 2)
	updateSet(g, "capped", func(s *droverv1.ProdSet) { s.Spec.Replicas = ptr.To[int32](1) })
	g.Eventually(func(g Gomega) {
		out, err := kubectlDrover(t, "status", "capped")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out).To(And(ContainSubstring("SafetyRulesKept False Held: held: maxSharePercent 50"), ContainSubstring("held in DNS by safety rule maxSharePercent")))
	}, 30*time.Second, 500*time.Millisecond).Should(Succeed())

	_, err := kubectlDrover(t, "override-safety", "capped", "--reason", "two\nlines")
	g.Expect(err).To(MatchError(ContainSubstring("not printable")))
	_, err = kubectlDrover(t, "override-safety", "capped")
	g.Expect(err).To(MatchError(ContainSubstring("either --reason or --clear")))
	g.Expect(getSet(g, "capped").Annotations).NotTo(HaveKey(droverv1.SafetyOverrideAnnotation))

	out, err := kubectlDrover(t, "override-safety", "capped", "--reason", "one replica for the weekend")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring(`done: set drover.dev/safety-override="one replica for the weekend" on ProdSet ` + bed.Namespace + "/capped"))
	expectServing(g, "capped", 1)

	_, err = kubectlDrover(t, "override-safety", "capped", "--clear")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(getSet(g, "capped").Annotations).NotTo(HaveKey(droverv1.SafetyOverrideAnnotation))
}
