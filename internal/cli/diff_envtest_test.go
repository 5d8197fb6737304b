package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/builder"
)

// diff against the test bed: a set running v1 on clusters a and b; the set's own
// template shows no differences (exit 0), a candidate manifest at v2 shows the ConfigMap's
// change on both clusters (exit 1) and changes nothing there; the ReleaseDiffs are gone
// afterwards.
func TestDiffCommand(t *testing.T) {
	startBed(t)
	g := NewWithT(t)
	ctx := context.Background()
	set := builder.ProdSet(bed.Namespace, "differ", builder.Replicas(2), builder.OnClusters(pool, "shop"),
		builder.Mutate(func(s *droverv1.ProdSet) { s.Spec.Placement.MaxPerCluster = 1 }))
	g.Expect(cp.Create(ctx, set)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), set) })
	g.Eventually(func(g Gomega) {
		prods := &droverv1.ProdList{}
		g.Expect(cp.List(ctx, prods, client.InNamespace(bed.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: "differ"})).To(Succeed())
		g.Expect(prods.Items).To(HaveLen(2))
		for _, p := range prods.Items {
			c := meta.FindStatusCondition(p.Status.Conditions, droverv1.ProdAppliedCondition)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		}
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	noDiffsLeft := func() {
		t.Helper()
		list := &droverv1.ReleaseDiffList{}
		g.Expect(cp.List(ctx, list, client.InNamespace(bed.Namespace))).To(Succeed())
		g.Expect(list.Items).To(BeEmpty(), "ReleaseDiffs left behind")
	}

	out, err := kubectlDrover(t, "diff", "differ")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(exitCode(err)).To(Equal(0))
	g.Expect(out).To(ContainSubstring("=== Prod differ-a on cluster a"))
	g.Expect(out).To(ContainSubstring("=== Prod differ-b on cluster b"))
	g.Expect(out).To(ContainSubstring("Unchanged v1 ConfigMap differ/settings"))
	g.Expect(out).To(HaveSuffix("no differences\n"))
	noDiffsLeft()

	candidate := set.DeepCopy()
	candidate.TypeMeta = metav1.TypeMeta{APIVersion: droverv1.GroupVersion.String(), Kind: "ProdSet"}
	candidate.ObjectMeta = metav1.ObjectMeta{Name: "differ"}
	candidate.Status = droverv1.ProdSetStatus{}
	candidate.Spec.Template.Spec.Version = "v2"
	data, err := yaml.Marshal(candidate)
	g.Expect(err).NotTo(HaveOccurred())
	file := filepath.Join(t.TempDir(), "differ-v2.yaml")
	g.Expect(os.WriteFile(file, data, 0o600)).To(Succeed())

	out, err = kubectlDrover(t, "diff", "differ", "-f", file)
	g.Expect(errors.Is(err, differencesError{})).To(BeTrue(), "err %v", err)
	g.Expect(exitCode(err)).To(Equal(1))
	g.Expect(strings.Count(out, "Update    v1 ConfigMap differ/settings\n--- live/ConfigMap/differ/settings\n")).To(Equal(2), "an Update on each cluster")
	g.Expect(out).To(ContainSubstring("-  version: v1\n+  version: v2\n"))
	noDiffsLeft()

	out, err = kubectlDrover(t, "diff", "differ", "-f", file, "-o", "json")
	g.Expect(exitCode(err)).To(Equal(1))
	d := &droverv1.ReleaseDiff{}
	g.Expect(json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), d)).To(Succeed())
	g.Expect(d.Status.Changes).To(BeTrue())
	g.Expect(d.Status.Prods).To(HaveLen(2))
	noDiffsLeft()

	_, err = kubectlDrover(t, "diff", "no-such-set")
	g.Expect(exitCode(err)).To(Equal(2))
	g.Expect(err).To(MatchError(ContainSubstring("ProdSet no-such-set not found")))

	// Nothing of v2 reached the clusters.
	for _, name := range []string{"a", "b"} {
		cm := &corev1.ConfigMap{}
		g.Expect(bed.Workload(name).Client.Get(ctx, client.ObjectKey{Namespace: "differ", Name: "settings"}, cm)).To(Succeed())
		g.Expect(cm.Data).To(HaveKeyWithValue("version", "v1"), "on cluster %s", name)
	}
}
