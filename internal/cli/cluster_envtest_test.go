package cli

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/builder"
)

// TestClusterCommands drains cluster c through the plugin: list, a dry run, a drain
// refused for a set's serving minimum (--wait says why), the same drain admitted once
// the minimum allows it and followed until Drained, then restore.
func TestClusterCommands(t *testing.T) {
	startBed(t)
	g := NewWithT(t)
	newSet(t, "cart", "cart", 1)
	newSet(t, "strict", "cart", 1, builder.MinAvailable("1"))
	expectServing(g, "cart", 1)
	expectServing(g, "strict", 1)
	maintenance := client.ObjectKey{Namespace: bed.Namespace, Name: "c-maintenance"}

	out, err := kubectlDrover(t, "cluster", "list")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(MatchRegexp(`^NAME\s+REACHABLE\s+MAINTENANCE\s+PRODS\s+WEIGHT\n`))
	g.Expect(out).To(MatchRegexp(`\nc\s+yes\s+-\s+2\s+200\n`))
	out, err = kubectlDrover(t, "cluster", "list", "-A")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(MatchRegexp(`^NAMESPACE\s+NAME\s+REACHABLE`))
	g.Expect(out).To(MatchRegexp(`\ndefault\s+c\s+yes\s+-\s+2\s+200\n`))
	for _, format := range []string{"json", "yaml"} {
		out, err := kubectlDrover(t, "cluster", "list", "-o", format)
		g.Expect(err).NotTo(HaveOccurred())
		var list ClusterList
		if format == "json" {
			g.Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
		} else {
			g.Expect(yaml.UnmarshalStrict([]byte(out), &list)).To(Succeed())
		}
		g.Expect(list.Clusters).To(ContainElement(ClusterRow{
			Namespace: "default", Name: "c", Reachable: "True", ReachableReason: "Prod cart-c: Reachable", Prods: 2, PublishedWeight: 200,
		}))
		g.Expect(list.Clusters).To(HaveLen(3))
	}

	// A dry run predicts the refusal and creates nothing.
	out, err = kubectlDrover(t, "cluster", "drain", "c", "--dry-run")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("cluster c: 2 Prods leave traffic:\n  ProdSet cart: cart-c (weight 100)\n  ProdSet strict: strict-c (weight 100)\n"))
	g.Expect(out).To(ContainSubstring("drover will likely refuse the drain (use --surge, or add capacity):\n  ProdSet strict would have 0 serving Prods, below its minimum of 1\n"))
	g.Expect(out).To(ContainSubstring("dry run: would create ClusterMaintenance default/c-maintenance (cluster c, surge false); nothing changed"))
	g.Expect(apierrors.IsNotFound(cp.Get(t.Context(), maintenance, &droverv1.ClusterMaintenance{}))).To(BeTrue())

	// drover refuses; --wait says why.
	out, err = kubectlDrover(t, "cluster", "drain", "c", "--reason", "upgrade to v1.36", "--wait")
	var ref *refusedError
	g.Expect(errors.As(err, &ref)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("drover refused to drain cluster c: draining cluster c is refused: ProdSet default/strict would have 0 serving Prods, below its minimum of 1"))
	g.Expect(out).To(ContainSubstring("created ClusterMaintenance default/c-maintenance (cluster c, surge false)"))
	g.Expect(out).To(MatchRegexp(`\d\d:\d\d:\d\d  Refused: draining cluster c is refused`))
	m := &droverv1.ClusterMaintenance{}
	g.Expect(cp.Get(t.Context(), maintenance, m)).To(Succeed())
	g.Expect(m.Spec).To(Equal(droverv1.ClusterMaintenanceSpec{ClusterName: "c", Reason: "upgrade to v1.36"}))
	out, err = kubectlDrover(t, "cluster", "list")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(MatchRegexp(`\nc\s+yes\s+Refused \(c-maintenance\)\s+2\s+200\n`))

	// Once the minimum allows it, drover drains by itself; drain --wait follows the
	// existing maintenance instead of making another.
	updateSet(g, "strict", func(s *droverv1.ProdSet) { s.Spec.Placement.MinAvailable = ptr.To(intstr.FromInt32(0)) })
	// drain --wait reports the maintenance as drover last judged it: wait for drover to
	// judge it again, or a loaded machine shows the refusal from before the change.
	g.Eventually(func(g Gomega) {
		g.Expect(cp.Get(t.Context(), maintenance, m)).To(Succeed())
		g.Expect(m.Status.Phase).NotTo(Equal(droverv1.MaintenanceRefused))
	}, time.Minute, 100*time.Millisecond).Should(Succeed())
	out, err = kubectlDrover(t, "cluster", "drain", "c", "--wait", "--surge")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("cluster c already has ClusterMaintenance c-maintenance"))
	g.Expect(out).To(ContainSubstring("note: it has surge=false; surge cannot be changed on a running maintenance"))
	g.Expect(out).To(MatchRegexp(`\d\d:\d\d:\d\d  Drained: all 2 Prods on cluster c are out of traffic`))
	g.Expect(out).To(ContainSubstring("cluster c is drained"))
	list := &droverv1.ClusterMaintenanceList{}
	g.Expect(cp.List(t.Context(), list)).To(Succeed())
	g.Expect(list.Items).To(HaveLen(1))
	out, err = kubectlDrover(t, "cluster", "list")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(MatchRegexp(`\nc\s+yes\s+Drained \(c-maintenance\)\s+2\s+0\n`))
	// Route53 holds it: drained is reported once the change is INSYNC.
	g.Expect(route53Weights(g, "cart")).To(Equal(map[string]int32{"default/cart-c": 0}), "the weights Route53 holds once drained")
	g.Expect(route53Weights(g, "strict")).To(Equal(map[string]int32{"default/strict-c": 0}), "the weights Route53 holds once drained")

	// restore: a dry run deletes nothing; then the maintenance goes once the Prods serve.
	out, err = kubectlDrover(t, "cluster", "restore", "c", "--dry-run")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("dry run: would delete ClusterMaintenance default/c-maintenance (Drained); nothing changed"))
	g.Expect(cp.Get(t.Context(), maintenance, &droverv1.ClusterMaintenance{})).To(Succeed())
	out, err = kubectlDrover(t, "cluster", "restore", "c", "--wait")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("deleted ClusterMaintenance default/c-maintenance (Drained)"))
	g.Expect(out).To(ContainSubstring("cluster c is back in traffic"))
	g.Expect(apierrors.IsNotFound(cp.Get(t.Context(), maintenance, &droverv1.ClusterMaintenance{}))).To(BeTrue())
	for _, name := range []string{"cart", "strict"} {
		g.Expect(getSet(g, name).Status.Prods).To(ConsistOf(HaveField("PublishedWeight", HaveValue(BeEquivalentTo(100)))))
		g.Expect(route53Weights(g, name)).To(Equal(map[string]int32{"default/" + name + "-c": 100}), "the weights Route53 holds once restored")
	}

	_, err = kubectlDrover(t, "cluster", "restore", "c")
	g.Expect(err).To(MatchError("cluster c has no ClusterMaintenance in namespace default; nothing to restore"))
	_, err = kubectlDrover(t, "cluster", "drain", "nope")
	g.Expect(err).To(MatchError(ContainSubstring("no Cluster API Cluster nope in namespace default")))
	_, err = kubectlDrover(t, "cluster", "drain", "c", "--name", "Not_A_Name", "--dry-run")
	g.Expect(err).To(MatchError(ContainSubstring("the API server refuses ClusterMaintenance Not_A_Name")))
	g.Expect(cp.List(t.Context(), list)).To(Succeed())
	g.Expect(list.Items).To(BeEmpty())
}
