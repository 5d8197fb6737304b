package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/harness"
)

// Byf is By with a format string.
func Byf(format string, args ...any) { By(fmt.Sprintf(format, args...)) }

// stopIfManagerExited ends an Eventually at once when the manager is gone: nothing
// would change any more, and its exit (with its log's tail) is the thing to report.
func stopIfManagerExited(m *harness.Manager) {
	if m == nil {
		return
	}
	if err := m.ExitError(); err != nil {
		StopTrying("the manager exited while the suite waited for it").Wrap(err).Now()
	}
}

// waitForProdInput is the input of waitForProd.
type waitForProdInput struct {
	// Getter reads the control plane.
	Getter client.Reader
	// Key of the Prod.
	Key client.ObjectKey
	// Version the Prod must have applied (status.appliedVersion); it must also be its
	// spec.version.
	Version string
	// Manager, if set, ends the wait early when it exits.
	Manager *harness.Manager
}

// waitForProd waits until the Prod's status is for its current generation, it applied
// input.Version, and ClusterReachable, Applied and Available are True. It returns the
// Prod as last read.
func waitForProd(ctx context.Context, input waitForProdInput, intervals ...any) *droverv1.Prod {
	Byf("Waiting for Prod %s to apply version %s and be ClusterReachable, Applied and Available", input.Key, input.Version)
	prod := &droverv1.Prod{}
	var readErr error
	Eventually(func() bool {
		stopIfManagerExited(input.Manager)
		if readErr = input.Getter.Get(ctx, input.Key, prod); readErr != nil {
			return false
		}
		return prodReady(prod, input.Version)
	}, intervals...).WithOffset(1).Should(BeTrue(), func() string {
		return describeProd(fmt.Sprintf("Prod %s did not apply version %s and become ClusterReachable, Applied and Available", input.Key, input.Version), prod, readErr)
	})
	return prod
}

// prodConditions are the conditions waitForProd wants True.
var prodConditions = []string{
	droverv1.ProdClusterReachableCondition,
	droverv1.ProdAppliedCondition,
	droverv1.ProdAvailableCondition,
}

// prodReady reports whether the Prod's status is current, for version, with every one
// of prodConditions True.
func prodReady(p *droverv1.Prod, version string) bool {
	if p.Status.ObservedGeneration != p.Generation || p.Spec.Version != version || p.Status.AppliedVersion != version {
		return false
	}
	for _, t := range prodConditions {
		if !meta.IsStatusConditionTrue(p.Status.Conditions, t) {
			return false
		}
	}
	return true
}

// describeProd explains a failed wait by what the Prod looked like last.
func describeProd(what string, p *droverv1.Prod, readErr error) string {
	var b strings.Builder
	b.WriteString(what + ".\n")
	if readErr != nil {
		fmt.Fprintf(&b, "The last read failed: %v\n", readErr)
	}
	if p.Name == "" {
		b.WriteString("The Prod was never read.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "Last seen: generation %d, status for generation %d, spec.version %s, status.appliedVersion %q, %d inventory entries\n",
		p.Generation, p.Status.ObservedGeneration, p.Spec.Version, p.Status.AppliedVersion, len(p.Status.Inventory))
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, "  %s=%s (%s): %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

// waitForDeploymentInput is the input of waitForDeployment.
type waitForDeploymentInput struct {
	// Getter reads the workload cluster.
	Getter client.Reader
	// Cluster is the workload cluster's name (for messages).
	Cluster string
	// Key of the Deployment.
	Key client.ObjectKey
	// Image every container of the Deployment must run.
	Image string
}

// waitForDeployment waits until the Deployment exists with input.Image and has rolled
// out: its status is for its current generation, every replica is updated and
// available, and its Available condition is True. It returns the Deployment as last
// read.
func waitForDeployment(ctx context.Context, input waitForDeploymentInput, intervals ...any) *appsv1.Deployment {
	Byf("Waiting for Deployment %s on %s to run %s and be available", input.Key, input.Cluster, input.Image)
	dep := &appsv1.Deployment{}
	var readErr error
	Eventually(func() bool {
		if readErr = input.Getter.Get(ctx, input.Key, dep); readErr != nil {
			return false
		}
		return deploymentRunsImage(dep, input.Image) && deploymentRolledOut(dep)
	}, intervals...).WithOffset(1).Should(BeTrue(), func() string {
		return describeDeployment(fmt.Sprintf("Deployment %s on %s did not run %s and become available", input.Key, input.Cluster, input.Image), dep, readErr)
	})
	return dep
}

// deploymentRunsImage reports whether every container of the Deployment runs image.
func deploymentRunsImage(d *appsv1.Deployment, image string) bool {
	cs := d.Spec.Template.Spec.Containers
	for _, c := range cs {
		if c.Image != image {
			return false
		}
	}
	return len(cs) > 0
}

// deploymentRolledOut reports whether the Deployment finished rolling out its current
// generation with every replica available.
func deploymentRolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	if s.ObservedGeneration != d.Generation || s.UpdatedReplicas != want || s.AvailableReplicas != want || s.Replicas != want {
		return false
	}
	for _, c := range s.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// describeDeployment explains a failed wait by what the Deployment looked like last.
func describeDeployment(what string, d *appsv1.Deployment, readErr error) string {
	var b strings.Builder
	b.WriteString(what + ".\n")
	if readErr != nil {
		fmt.Fprintf(&b, "The last read failed: %v\n", readErr)
	}
	if d.Name == "" {
		b.WriteString("The Deployment was never read.\n")
		return b.String()
	}
	var images []string
	for _, c := range d.Spec.Template.Spec.Containers {
		images = append(images, c.Name+"="+c.Image)
	}
	s := d.Status
	fmt.Fprintf(&b, "Last seen: images %v, generation %d, status for generation %d, replicas %d, updated %d, ready %d, available %d\n",
		images, d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas)
	for _, c := range s.Conditions {
		fmt.Fprintf(&b, "  %s=%s (%s): %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

// waitForGoneInput is the input of waitForGone.
type waitForGoneInput struct {
	// Getter reads the cluster the object is in.
	Getter client.Reader
	// Object names the object (its kind and key); it receives what is read.
	Object client.Object
	// Where is the cluster (for messages).
	Where string
	// Manager, if set, ends the wait early when it exits.
	Manager *harness.Manager
}

// waitForGone waits until reading the object gives NotFound.
func waitForGone(ctx context.Context, input waitForGoneInput, intervals ...any) {
	key := client.ObjectKeyFromObject(input.Object)
	kind := input.Object.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		kind = reflect.TypeOf(input.Object).Elem().Name()
	}
	Byf("Waiting for %s %s on %s to be gone", kind, key, input.Where)
	var readErr error
	Eventually(func() bool {
		stopIfManagerExited(input.Manager)
		readErr = input.Getter.Get(ctx, key, input.Object)
		return apierrors.IsNotFound(readErr)
	}, intervals...).WithOffset(1).Should(BeTrue(), func() string {
		if readErr != nil {
			return fmt.Sprintf("%s %s on %s is not gone: the last read failed: %v", kind, key, input.Where, readErr)
		}
		return fmt.Sprintf("%s %s on %s is still there: deletionTimestamp %v, finalizers %v",
			kind, key, input.Where, input.Object.GetDeletionTimestamp(), input.Object.GetFinalizers())
	})
}

// tableAccept asks the API server for a Table, as kubectl get does.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io"

// getTableInput is the input of getTable.
type getTableInput struct {
	// Config of the API server, with its credentials.
	Config *rest.Config
	// Path of the list to get, e.g. /apis/drover.dev/v1alpha1/prods.
	Path string
}

// getTable gets the list at input.Path as a meta.k8s.io/v1 Table: the columns the
// resource's printer columns define, as kubectl get shows them.
func getTable(ctx context.Context, input getTableInput) *metav1.Table {
	Byf("Getting %s as a Table", input.Path)
	httpClient, err := rest.HTTPClientFor(input.Config)
	Expect(err).NotTo(HaveOccurred(), "building an HTTP client for %s", input.Config.Host)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(input.Config.Host, "/")+input.Path, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Accept", tableAccept)
	resp, err := httpClient.Do(req)
	Expect(err).NotTo(HaveOccurred(), "GET %s", input.Path)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred(), "reading the answer to GET %s", input.Path)
	Expect(resp.StatusCode).To(Equal(http.StatusOK), "GET %s answered %s: %s", input.Path, resp.Status, body)
	table := &metav1.Table{}
	Expect(json.Unmarshal(body, table)).To(Succeed(), "decoding the answer to GET %s as a Table: %s", input.Path, body)
	Expect(table.Kind).To(Equal("Table"), "GET %s with Accept: %s did not answer a Table: %s", input.Path, tableAccept, body)
	return table
}

// tableColumns returns the names of the table's columns, in order.
func tableColumns(t *metav1.Table) []string {
	names := make([]string, 0, len(t.ColumnDefinitions))
	for _, c := range t.ColumnDefinitions {
		names = append(names, c.Name)
	}
	return names
}

// tableRow returns the cells of the table's row for the object named name, keyed by
// column name and rendered as kubectl would (an absent value is ""); nil if there is
// no such row.
func tableRow(t *metav1.Table, name string) map[string]string {
	cols := tableColumns(t)
	for _, row := range t.Rows {
		cells := make(map[string]string, len(cols))
		for i, c := range cols {
			if i < len(row.Cells) && row.Cells[i] != nil {
				cells[c] = fmt.Sprint(row.Cells[i])
			} else {
				cells[c] = ""
			}
		}
		if cells["Name"] == name {
			return cells
		}
	}
	return nil
}

// parseKubectlTable splits kubectl get's output into its header and rows, each row
// keyed by header. Columns are cut where the header's columns start, so an empty cell
// stays empty instead of shifting the ones after it.
func parseKubectlTable(out string) (header []string, rows []map[string]string) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		return nil, nil
	}
	var starts []int
	prevSpace := true
	for i, r := range lines[0] {
		if r != ' ' && prevSpace {
			starts = append(starts, i)
		}
		prevSpace = r == ' '
	}
	cut := func(line string, i int) string {
		if starts[i] >= len(line) {
			return ""
		}
		end := len(line)
		if i+1 < len(starts) && starts[i+1] < end {
			end = starts[i+1]
		}
		return strings.TrimSpace(line[starts[i]:end])
	}
	for i := range starts {
		header = append(header, cut(lines[0], i))
	}
	for _, line := range lines[1:] {
		row := make(map[string]string, len(header))
		for i, h := range header {
			row[h] = cut(line, i)
		}
		rows = append(rows, row)
	}
	return header, rows
}

// regionOf is the region label of the named workload cluster.
func regionOf(cluster string) string {
	for _, w := range workloads {
		if w.Name == cluster {
			return w.Labels[regionLabel]
		}
	}
	return ""
}

// readyEndpoints counts the ready endpoints of the Service in the workload cluster's
// EndpointSlices: what the stand-in CCM makes the Octavia pool's members of.
func readyEndpoints(ctx context.Context, g Gomega, workload client.Reader, namespace, service string) int {
	slices := &discoveryv1.EndpointSliceList{}
	g.Expect(workload.List(ctx, slices, client.InNamespace(namespace), client.MatchingLabels{discoveryv1.LabelServiceName: service})).To(Succeed())
	n := 0
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if (e.Conditions.Ready == nil || *e.Conditions.Ready) && len(e.Addresses) > 0 {
				n++
			}
		}
	}
	return n
}

// statusRow is one Prod's line of `kubectl drover status`.
type statusRow struct {
	Cluster, Version, Revision, Weight string
	// Markers are the conditions at a glance and the notes after them.
	Markers string
}

// statusRowPattern matches a Prod's line of the status tree:
// "├─ shop-workload-1  workload-1  v1 (1a2b3c4d5e)  100/100  R✓ Ap✓ Av✓ T✓ M✓".
var statusRowPattern = regexp.MustCompile(`^[├└]─ (\S+)\s+(\S+)\s+(\S+)(?: \((\w+)\))?\s+(\S+(?: \(→\d+\))?)\s+(R\S+ .*)$`)

// statusRows parses the Prods' lines of `kubectl drover status`, by Prod name.
func statusRows(out string) map[string]statusRow {
	rows := map[string]statusRow{}
	for line := range strings.SplitSeq(out, "\n") {
		m := statusRowPattern.FindStringSubmatch(strings.TrimRight(line, " "))
		if m == nil {
			continue
		}
		rows[m[1]] = statusRow{Cluster: m[2], Version: m[3], Revision: m[4], Weight: m[5], Markers: m[6]}
	}
	return rows
}
