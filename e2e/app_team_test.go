package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/harness"
	"github.com/drover-dev/drover/internal/manifests"
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

var _ = Describe("app team", Ordered, func() {
	var sample sampleProd

	BeforeAll(func() {
		sample = readSampleProd()
	})

	It("applies the sample Prod and sees where it landed", func(ctx SpecContext) {
		Byf("Applying the sample Prod %s (server-side, as %s)", sample.key, fieldManager)
		Expect(harness.Apply(ctx, cp, fieldManager, sample.object)).To(Succeed())

		prod := waitForProd(ctx, waitForProdInput{Getter: cp, Key: sample.key, Version: sample.version, Manager: manager.Manager}, prodWait...)
		Expect(prod.Status.Cluster).To(Equal(bed.Namespace+"/"+sample.cluster), "status.cluster")
		Expect(prod.Status.Inventory).To(ContainElement(droverv1.ObjectReference{
			Group: "apps", Version: "v1", Kind: "Deployment", Namespace: sample.deployment.Namespace, Name: sample.deployment.Name,
		}), "status.inventory lists the Deployment")

		waitForDeployment(ctx, waitForDeploymentInput{
			Getter: bed.Workload(sample.cluster).Client, Cluster: sample.cluster,
			Key: sample.deployment, Image: sample.imageFor(sample.version),
		}, deploymentWait...)
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
