package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/mirror"
	"github.com/drover-dev/drover/internal/manifests"
	"github.com/drover-dev/drover/internal/test/cloudbed"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

const (
	// fieldManager is the server-side apply field manager of what the app team applies.
	fieldManager = "app-team"
	// prodsPath lists the Prods of every namespace, as kubectl get prods -A does.
	prodsPath = "/apis/drover.dev/v1alpha1/prods"
)

// Timeouts and polling intervals of the waits.
var (
	// prodWait is how long a Prod gets to apply a version and become Available
	// (including the rollout of its Deployment on kwok Nodes).
	prodWait = []any{2 * time.Minute, 500 * time.Millisecond}
	// deploymentWait is how long a Deployment gets to roll out once its Prod is
	// Available (it should have already).
	deploymentWait = []any{time.Minute, 500 * time.Millisecond}
	// deleteWait is how long a deleted object gets to disappear.
	deleteWait = []any{time.Minute, 500 * time.Millisecond}
)

// sampleProd is the Prod of config/samples as the app team applies it, and what the
// suite expects of it.
type sampleProd struct {
	// object is the Prod as read from its YAML file.
	object *unstructured.Unstructured
	// key is its namespace and name in the control plane.
	key client.ObjectKey
	// cluster is the workload cluster it targets.
	cluster string
	// version is its spec.version.
	version string
	// deployment is the key of its Deployment on the workload cluster.
	deployment client.ObjectKey
	// image is the Deployment's image with ${DROVER_VERSION} still in it.
	image string
}

// imageFor is the image the Deployment runs for version.
func (s sampleProd) imageFor(version string) string {
	return strings.ReplaceAll(s.image, manifests.VersionPlaceholder, version)
}

// readSampleProd reads the one Prod of config/samples and its Deployment.
func readSampleProd() sampleProd {
	dir := filepath.Join(root, "config", "samples")
	objs, err := harness.ReadYAMLDir(dir)
	Expect(err).NotTo(HaveOccurred(), "reading the samples")
	var prods []*unstructured.Unstructured
	for _, o := range objs {
		if o.GroupVersionKind() == droverv1.GroupVersion.WithKind("Prod") {
			prods = append(prods, o)
		}
	}
	Expect(prods).To(HaveLen(1), "the suite follows the one Prod of %s", dir)

	var prod droverv1.Prod
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(prods[0].Object, &prod)).To(Succeed(), "decoding the sample Prod")
	s := sampleProd{
		object:  prods[0],
		key:     client.ObjectKeyFromObject(prods[0]),
		cluster: prod.Spec.ClusterRef.Name,
		version: prod.Spec.Version,
	}
	Expect(s.cluster).To(Equal(rolloutCluster), "the sample Prod must target %s, the workload cluster whose Deployments roll out", rolloutCluster)
	for _, m := range prod.Spec.Manifests {
		u := &unstructured.Unstructured{}
		Expect(u.UnmarshalJSON(m.Raw)).To(Succeed(), "decoding a manifest of the sample Prod")
		if u.GroupVersionKind() != appsv1.SchemeGroupVersion.WithKind("Deployment") {
			continue
		}
		Expect(s.image).To(BeEmpty(), "the sample Prod has more than one Deployment")
		containers, _, err := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		Expect(err).NotTo(HaveOccurred())
		Expect(containers).NotTo(BeEmpty(), "the sample Deployment %s has no containers", u.GetName())
		image, _, _ := unstructured.NestedString(containers[0].(map[string]any), "image")
		Expect(image).To(ContainSubstring(manifests.VersionPlaceholder), "the sample Deployment's image does not reference the version")
		s.deployment = client.ObjectKey{Namespace: prod.Spec.TargetNamespace, Name: u.GetName()}
		s.image = image
	}
	Expect(s.image).NotTo(BeEmpty(), "the sample Prod has no Deployment")
	return s
}

var _ = Describe("An app team applies the single sample Prod", Ordered, func() {
	var sample sampleProd

	BeforeAll(func() {
		sample = readSampleProd()
	})

	It("applies the sample Prod and sees where it landed", func(ctx SpecContext) {
		Byf("Applying the sample Prod %s (server-side, as %s)", sample.key, fieldManager)
		Expect(harness.Apply(ctx, cp, fieldManager, sample.object)).To(Succeed())

		prod := waitForProd(ctx, waitForProdInput{Getter: cp, Key: sample.key, Version: sample.version, Manager: manager.Manager}, prodWait...)
		Expect(prod.Status.Cluster).To(Equal(bed.Namespace+"/"+sample.cluster), "status.cluster")
		dep := waitForDeployment(ctx, waitForDeploymentInput{
			Getter: bed.Workload(sample.cluster).Client, Cluster: sample.cluster,
			Key: sample.deployment, Image: sample.imageFor(sample.version),
		}, deploymentWait...)
		Expect(prod.Status.Inventory).To(ContainElement(And(
			HaveField("Group", "apps"), HaveField("Version", "v1"), HaveField("Kind", "Deployment"),
			HaveField("Namespace", sample.deployment.Namespace), HaveField("Name", sample.deployment.Name),
			HaveField("UID", dep.UID), HaveField("Applied", Not(BeEmpty())),
		)), "status.inventory lists the Deployment, with the UID it has on the workload cluster and the record of drover's apply")
	}, SpecTimeout(3*time.Minute))

	It("`kubectl get prods` shows cluster, version, weight and health", func(ctx SpecContext) {
		wantColumns := []string{"Cluster", "Version", "Weight", "Published", "Reachable", "Available", "Age"}
		want := map[string]string{
			"Cluster": sample.cluster, "Version": sample.version, "Weight": "100", "Reachable": "True", "Available": "True",
		}

		table := getTable(ctx, getTableInput{Config: bed.ControlPlane.Config, Path: prodsPath})
		Expect(tableColumns(table)).To(ContainElements(wantColumns), "the Table's columns")
		row := tableRow(table, sample.key.Name)
		Expect(row).NotTo(BeNil(), "the Table has no row for Prod %s: %v", sample.key.Name, table.Rows)
		for col, value := range want {
			Expect(row).To(HaveKeyWithValue(col, value), "column %s of Prod %s", col, sample.key.Name)
		}
		Expect(row["Age"]).NotTo(BeEmpty(), "column Age of Prod %s", sample.key.Name)

		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			GinkgoWriter.Println("kubectl is not on PATH; checked the Table API only")
			return
		}
		Byf("Running %s get prods -A", kubectl)
		cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfigPath, "--cache-dir", filepath.Join(workDir, "kubectl-cache"), "get", "prods", "-A")
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "kubectl get prods -A: %s", out)
		header, rows := parseKubectlTable(string(out))
		for _, c := range wantColumns {
			Expect(header).To(ContainElement(strings.ToUpper(c)), "kubectl's header:\n%s", out)
		}
		var kubectlRow map[string]string
		for _, r := range rows {
			if r["NAMESPACE"] == sample.key.Namespace && r["NAME"] == sample.key.Name {
				kubectlRow = r
			}
		}
		Expect(kubectlRow).NotTo(BeNil(), "kubectl shows no row for Prod %s:\n%s", sample.key, out)
		for col, value := range want {
			Expect(kubectlRow).To(HaveKeyWithValue(strings.ToUpper(col), value), "kubectl's %s of Prod %s:\n%s", strings.ToUpper(col), sample.key, out)
		}
	}, SpecTimeout(time.Minute))

	It("bumps the version and it rolls out", func(ctx SpecContext) {
		const next = "v2"
		Byf("Patching Prod %s to version %s", sample.key, next)
		prod := &droverv1.Prod{}
		Expect(cp.Get(ctx, sample.key, prod)).To(Succeed())
		before := prod.DeepCopy()
		prod.Spec.Version = next
		Expect(cp.Patch(ctx, prod, client.MergeFrom(before))).To(Succeed())

		waitForProd(ctx, waitForProdInput{Getter: cp, Key: sample.key, Version: next, Manager: manager.Manager}, prodWait...)
		dep := waitForDeployment(ctx, waitForDeploymentInput{
			Getter: bed.Workload(sample.cluster).Client, Cluster: sample.cluster,
			Key: sample.deployment, Image: sample.imageFor(next),
		}, deploymentWait...)
		Expect(dep.Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":"+next), "the Deployment's image tag")
	}, SpecTimeout(3*time.Minute))

	It("deletes the Prod and its objects go", func(ctx SpecContext) {
		prod := &droverv1.Prod{}
		Expect(cp.Get(ctx, sample.key, prod)).To(Succeed())
		inventory := prod.Status.Inventory
		Expect(inventory).NotTo(BeEmpty(), "Prod %s has no inventory to clean up", sample.key)

		Byf("Deleting Prod %s", sample.key)
		Expect(cp.Delete(ctx, prod)).To(Succeed())
		waitForGone(ctx, waitForGoneInput{Getter: cp, Object: &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: sample.key.Namespace, Name: sample.key.Name}}, Where: "the control plane", Manager: manager.Manager}, deleteWait...)

		workload := bed.Workload(sample.cluster).Client
		waitForGone(ctx, waitForGoneInput{
			Getter: workload, Where: sample.cluster, Manager: manager.Manager,
			Object: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: sample.deployment.Namespace, Name: sample.deployment.Name}},
		}, deleteWait...)
		for _, ref := range inventory {
			if ref.Kind == "Deployment" && ref.Namespace == sample.deployment.Namespace && ref.Name == sample.deployment.Name {
				continue // gone already
			}
			u := &unstructured.Unstructured{}
			u.SetAPIVersion(schema.GroupVersion{Group: ref.Group, Version: ref.Version}.String())
			u.SetKind(ref.Kind)
			u.SetNamespace(ref.Namespace)
			u.SetName(ref.Name)
			waitForGone(ctx, waitForGoneInput{Getter: workload, Object: u, Where: sample.cluster, Manager: manager.Manager}, deleteWait...)
		}
	}, SpecTimeout(3*time.Minute))
})

// shopStory is the state the shop's story carries from one user to the next.
type shopStory struct {
	// key of the ProdSet shop.
	key client.ObjectKey
	// sampler counts the serving Prods of the set from the moment all of them first
	// serve to the end of the story.
	sampler *servingSampler
	// revisions of v2 and v3.
	v2, v3 string
}

// shopPolicy is the release engineer's policy, named by the set from the start (a set
// created with a policy rolls its first revision out at once).
const shopPolicy = "shop-release"

// testCluster is where the release engineer's test Prod runs: the first step picks one
// Prod there.
const testCluster = "workload-1"

// The shop's story: an app team applies a ProdSet of 6 Prods over the 4 workload
// clusters; a second team in its own namespace tries to reach the fleet, the shop's
// namespace, cluster-admin and kube-system and is refused each time; a release engineer
// ships v2 through a 3-step policy, then v3, which fails its Prometheus gate at step 2
// and is rolled back by traffic, then a version whose HTTP check fails at the first step; the platform team drains a cluster, upgrades and
// restores it, is refused a second drain, and lets Cluster API's upgrade hook wait for
// a drain. From the moment the set first serves to the end, a sampler counts its
// serving Prods in Route53 and status, and the story ends by checking that it never
// went below the set's minimum.
var _ = Describe("The shop: an app team applies it, a second team is refused beside it, a release engineer ships it, the platform team upgrades under it", Ordered, func() {
	story := &shopStory{}

	BeforeAll(func(ctx SpecContext) {
		for _, v := range []string{"v1", "v2", "v3"} {
			setErrorRatio(v, goodErrorRatio)
		}
		waitForErrorRatio(ctx, "v3", goodErrorRatio)

		createRolloutPolicy(ctx, newRolloutPolicy("", shopPolicy,
			// One Prod first, at a canary weight: it must answer its HTTP check and its
			// version's error ratio must hold.
			droverv1.RolloutStep{Name: "test", Selector: onCluster(testCluster), Count: ptr.To(intstr.FromInt32(1)),
				Weight: ptr.To[int32](10), Gates: []droverv1.Gate{httpCheckGate(), prometheusGate(4 * time.Second)}},
			// Then the two with the least traffic, together; the error ratio must hold
			// for 12 s (long enough for the v3 spec to raise it while the gate runs).
			droverv1.RolloutStep{Name: "least-impact", Order: droverv1.LeastTrafficFirstOrder, Count: ptr.To(intstr.FromInt32(2)),
				MaxParallel: ptr.To(intstr.FromInt32(2)), Gates: []droverv1.Gate{httpCheckGate(), prometheusGate(12 * time.Second)}},
			// Then the rest, two at a time.
			droverv1.RolloutStep{Name: "rest", MaxParallel: ptr.To(intstr.FromInt32(2)), Gates: []droverv1.Gate{httpCheckGate()}},
		))
		set := newProdSet(prodSetOptions{Name: "shop", Policy: shopPolicy})
		story.key = client.ObjectKeyFromObject(set)
		createProdSet(ctx, set)
		DeferCleanup(func() {
			if story.sampler != nil {
				story.sampler.stop()
			}
		})
	}, NodeTimeout(2*time.Minute))

	appTeamSpecs(story)
	secondTeamSpecs(story)
	releaseEngineerSpecs(story)
	platformTeamSpecs(story)
})

// appTeamSpecs are the app team's part of the shop's story.
func appTeamSpecs(story *shopStory) {
	It("the app team's 6 Prods land on all 4 clusters across both regions, each Deployment rolled out", func(ctx SpecContext) {
		set, prods := waitForSetServing(ctx, waitForSetServingInput{Key: story.key, Version: "v1"})
		// From here to the end of the story, count the serving Prods.
		story.sampler = startServingSampler(story.key)

		Expect(set.Status.MinServing).To(BeEquivalentTo(defaultMinAvailable), "status.minServing")
		byCluster := prodsByCluster(prods)
		Expect(byCluster).To(HaveLen(len(workloads)), "the Prods by cluster")
		perRegion := map[string]int{}
		for cluster, names := range byCluster {
			Expect(len(names)).To(BeNumerically("<=", defaultMaxPerCluster), "Prods on %s: %v", cluster, names)
			perRegion[regionOf(cluster)] += len(names)
		}
		Expect(perRegion).To(Equal(map[string]int{"eu": 3, "us": 3}), "the Prods spread evenly over the regions: %v", byCluster)
		for i := range prods {
			p := &prods[i]
			Expect(p.Status.Cluster).To(Equal(bed.Namespace+"/"+p.Spec.ClusterRef.Name), "Prod %s's status.cluster", p.Name)
		}
		waitForAppDeployments(ctx, story.key.Name, prods, "v1")
	}, SpecTimeout(10*time.Minute))

	It("each Prod has an Octavia load balancer, mirrored to an NLB whose targets are the Service's endpoints", func(ctx SpecContext) {
		prods := listSetProds(ctx, Default, story.key)
		Eventually(func(g Gomega) {
			nlbs, err := cloudbed.ReadNLBs(ctx, clouds.AWS.ELBv2, route53.DefaultOwner)
			g.Expect(err).NotTo(HaveOccurred())
			byProd := map[string][]cloudbed.NLB{}
			for _, n := range nlbs {
				byProd[n.Prod] = append(byProd[n.Prod], n)
			}
			for i := range prods {
				p := &prods[i]
				ep := p.Status.Endpoint
				g.Expect(ep).NotTo(BeNil(), "Prod %s's endpoint", p.Name)

				// The Octavia load balancer the Service got, as Octavia has it.
				svc := &corev1.Service{}
				workload := bed.Workload(p.Spec.ClusterRef.Name).Client
				g.Expect(workload.Get(ctx, client.ObjectKey{Namespace: p.Spec.TargetNamespace, Name: story.key.Name}, svc)).To(Succeed())
				g.Expect(svc.Annotations).To(HaveKeyWithValue(mirror.LoadBalancerIDAnnotation, ep.LoadBalancerID), "Prod %s's Service names its load balancer", p.Name)
				lb, err := loadbalancers.Get(ctx, clouds.LBaaS, ep.LoadBalancerID).Extract()
				g.Expect(err).NotTo(HaveOccurred(), "Prod %s's load balancer %s in Octavia", p.Name, ep.LoadBalancerID)
				g.Expect(lb.ProvisioningStatus).To(Equal("ACTIVE"), "Prod %s's load balancer", p.Name)
				g.Expect(lb.VipAddress).To(Equal(ep.VIP), "Prod %s's VIP", p.Name)

				// Exactly one NLB, the one in status, with the Service's ready endpoints as targets.
				endpoints := readyEndpoints(ctx, g, workload, p.Spec.TargetNamespace, story.key.Name)
				g.Expect(endpoints).To(Equal(appReplicas), "Prod %s's Service's ready endpoints", p.Name)
				mine := byProd[prodKey(p)]
				g.Expect(mine).To(HaveLen(1), "NLBs of Prod %s", p.Name)
				g.Expect(mine[0].ARN).To(Equal(ep.NLBARN), "Prod %s's NLB", p.Name)
				g.Expect(mine[0].State).To(Equal("active"), "Prod %s's NLB", p.Name)
				g.Expect(mine[0].TargetGroups).To(Equal(1), "Prod %s's NLB mirrors its one listener's pool", p.Name)
				g.Expect(mine[0].Targets).To(Equal(endpoints), "Prod %s's NLB targets", p.Name)
			}
		}, 2*time.Minute, time.Second).Should(Succeed())
	}, SpecTimeout(3*time.Minute))

	It("Route53 has each Prod's weighted record under shop.example.com and its two paths, 90/10 and health checked", func(ctx SpecContext) {
		prods := listSetProds(ctx, Default, story.key)
		recs, err := readSetRecords(ctx, story.key)
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(len(prods)), "the Prods with records under %s", setRecordName(story.key.Name))
		for i := range prods {
			p := &prods[i]
			r := recs[prodKey(p)]
			Expect(r.Weight).To(HaveValue(BeEquivalentTo(droverv1.DefaultWeight)), "Prod %s's service-level weight", p.Name)
			Expect(r.Share).To(Equal(17), "Prod %s's share of the service (100 of 600)", p.Name)
			expectPathRecords(Default, p, r)
		}
	}, SpecTimeout(time.Minute))

	It("`kubectl drover status shop` shows the set and its 6 Prods with cluster, version and weight", func(ctx SpecContext) {
		out, err := plugin(ctx, "-n", story.key.Namespace, "status", story.key.Name)
		Expect(err).NotTo(HaveOccurred(), "kubectl drover status: %s", out)
		GinkgoWriter.Println(out)
		Expect(out).To(ContainSubstring("ProdSet %s/%s  version v1", story.key.Namespace, story.key.Name))
		Expect(out).To(ContainSubstring("replicas 6: 6 available, 6 serving (minimum 3)"))
		Expect(out).To(ContainSubstring("rollout Succeeded"), "the first revision rolled out at once")
		rows := statusRows(out)
		prods := listSetProds(ctx, Default, story.key)
		Expect(rows).To(HaveLen(len(prods)), "the Prod rows of:\n%s", out)
		for i := range prods {
			p := &prods[i]
			Expect(rows).To(HaveKeyWithValue(p.Name, And(
				HaveField("Cluster", p.Spec.ClusterRef.Name), HaveField("Version", "v1"), HaveField("Weight", "100/100"),
				HaveField("Markers", ContainSubstring("Av✓")),
			)), "the row of Prod %s in:\n%s", p.Name, out)
			Expect(out).To(ContainSubstring("octavia %s", p.Status.Endpoint.VIP), "Prod %s's Octavia path", p.Name)
			Expect(out).To(ContainSubstring("nlb %s", p.Status.Endpoint.NLBDNSName), "Prod %s's NLB path", p.Name)
		}
	}, SpecTimeout(time.Minute))
}
