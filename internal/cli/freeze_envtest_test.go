package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/cluster-api/util/conditions"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// freeze, freezes and unfreeze against the test bed: a set without a RolloutPolicy, whose
// new version would reach every Prod at once, is held by the freeze, says so, and moves
// once the freeze is deleted.
func TestFreezeCommands(t *testing.T) {
	startBed(t)
	g := NewWithT(t)
	newSet(t, "frz", "shop", 2)
	expectServing(g, "frz", 2)

	out, err := kubectlDrover(t, "freeze", "frz", "--reason", "payment incident", "--for", "1h", "--name", "incident")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("Freeze " + bed.Namespace + "/incident created: payment incident, until "))
	_, err = kubectlDrover(t, "freeze", "--reason", " ")
	g.Expect(err).To(MatchError(ContainSubstring("--reason is required")))

	out, err = kubectlDrover(t, "freezes", "-o", "json")
	g.Expect(err).NotTo(HaveOccurred())
	var l FreezeList
	g.Expect(json.Unmarshal([]byte(out), &l)).To(Succeed())
	g.Expect(l.Freezes).To(ContainElement(And(HaveField("Name", "incident"), HaveField("Active", true), HaveField("Scope", "ProdSets frz"))))

	updateSet(g, "frz", func(s *droverv1.ProdSet) { s.Spec.Template.Spec.Version = "v2" })
	g.Eventually(func(g Gomega) {
		c := conditions.Get(getSet(g, "frz"), droverv1.ProdSetRolledOutCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(droverv1.ProdSetRolloutFrozenReason))
		g.Expect(c.Message).To(ContainSubstring("frozen by Freeze " + bed.Namespace + "/incident (payment incident) until "))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		for _, p := range getSet(g, "frz").Status.Prods {
			g.Expect(p.Version).To(Equal("v1"))
		}
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())
	out, err = kubectlDrover(t, "status", "frz")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("RolledOut False Frozen: frozen by Freeze"))

	out, err = kubectlDrover(t, "unfreeze", "incident")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.TrimSpace(out)).To(Equal("Freeze " + bed.Namespace + "/incident deleted"))
	g.Eventually(func(g Gomega) {
		for _, p := range getSet(g, "frz").Status.Prods {
			g.Expect(p.Version).To(Equal("v2"))
		}
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
}
