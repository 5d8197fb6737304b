package prod_test

import (
	"bufio"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prod"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/builder"
	"github.com/drover-dev/drover/internal/test/suite"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// workloadWrites counts, from the workload kube-apiserver's own apiserver_request_total,
// the writes (by verb: POST creates, PUT updates) to the resources a Prod of this test puts there.
func workloadWrites(t *testing.T, cfg *rest.Config) map[string]float64 {
	return workloadRequests(t, cfg, "apiserver_request_total", "APPLY", "POST", "PUT", "PATCH", "DELETE")
}

// comparedUnchanged is this process's drover_prod_objects_compared_total{result="unchanged"}.
func comparedUnchanged(t *testing.T) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "drover_prod_objects_compared_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == prod.ObjectUnchanged {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// workloadRequests sums the metric's series of verbs on those resources.
func workloadRequests(t *testing.T, cfg *rest.Config, metric string, verbs ...string) map[string]float64 {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 10 * time.Second
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(strings.TrimRight(cfg.Host, "/") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping the workload API server: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		labels, value, _ := strings.Cut(line[len(metric+"{"):], "} ")
		verb, resource := "", ""
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "verb":
				verb = strings.Trim(v, `"`)
			case "resource":
				resource = strings.Trim(v, `"`)
			}
		}
		if !slices.Contains(verbs, verb) {
			continue
		}
		switch resource {
		case "configmaps", "services", "namespaces":
		default:
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("parsing %q: %v", line, err)
		}
		out[verb+" "+resource] += n
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// prodWrites counts, from the control plane's apiserver_request_total, the writes to
// Prods by verb and subresource ("PATCH prods/status").
func prodWrites(t *testing.T, cfg *rest.Config) map[string]float64 {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 10 * time.Second
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(strings.TrimRight(cfg.Host, "/") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, value, _ := strings.Cut(line[len("apiserver_request_total{"):], "} ")
		l := map[string]string{}
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			l[k] = strings.Trim(v, `"`)
		}
		if l["resource"] != "prods" || !slices.Contains([]string{"POST", "PUT", "PATCH", "APPLY"}, l["verb"]) {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("parsing %q: %v", line, err)
		}
		key := l["verb"] + " prods"
		if l["subresource"] != "" {
			key += "/" + l["subresource"]
		}
		out[key] += n
	}
	return out
}

func minus(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// The workload caches and watches: with the periodic resync an hour away, drift in a
// field drover applies is put back as soon as the watch sees it, a deleted object is made
// again, a change to a field drover does not own makes no apply, and a restarted manager
// with nothing changed applies nothing — counted by the workload kube-apiserver itself.
// Its own test bed and manager: the suite's resyncs every 3 s.
func TestDriftIsCorrectedByTheWatchAndARestartAppliesNothing(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	own := testbed.StartForTest(ctx, t, testbed.Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Workloads:         []testbed.WorkloadOptions{{Name: "watched"}},
		Scheme:            setup.Scheme(),
	})
	opts := setup.Options{WorkloadClientTimeout: 5 * time.Second, ProdResyncInterval: time.Hour, ManagerNamespace: managerNamespace}
	g.Expect(own.ControlPlane.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}})).To(Succeed())
	stop, err := suite.StartManager(ctx, own, opts)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		if stop != nil {
			_ = stop()
		}
	})

	w := own.Workload("watched")
	ns := "shop-watched"
	p := builder.Prod(own.Namespace, "watched", ns, []builder.Object{
		configMap("settings", map[string]string{"color": "blue"}),
		configMap("other", map[string]string{"size": "l"}),
		map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "api"}, "spec": map[string]any{
			"clusterIP": "None", "selector": map[string]any{"app": "api"}, "ports": []any{map[string]any{"name": "http", "port": 80}},
		}},
	})
	firstApply := workloadRequests(t, w.Config, "apiserver_request_total", "GET", "POST", "PUT", "PATCH", "APPLY", "DELETE")
	firstWrites := prodWrites(t, own.ControlPlane.Config)
	g.Expect(own.ControlPlane.Client.Create(ctx, p)).To(Succeed())
	ready := func(g Gomega) {
		got := &droverv1.Prod{}
		g.Expect(own.ControlPlane.Client.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionTrue, "")
		expectCondition(g, got, droverv1.ProdAvailableCondition, metav1.ConditionTrue, "")
		g.Expect(got.Status.Inventory).To(HaveLen(3))
		for _, ref := range got.Status.Inventory {
			g.Expect(ref.Applied).NotTo(BeEmpty(), "%s has no apply record", ref.Name)
		}
	}
	g.Eventually(ready, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	// Let the reconciles of the first apply (woken by its own events) finish.
	time.Sleep(2 * time.Second)
	// The first apply cost the least possible: the namespace and each object created
	// once, nothing read (the namespace was just created: nothing was in it), nothing
	// applied after its create, and the reconciles after it found everything in sync.
	g.Expect(minus(workloadRequests(t, w.Config, "apiserver_request_total", "GET", "POST", "PUT", "PATCH", "APPLY", "DELETE"), firstApply)).To(Equal(
		map[string]float64{"POST namespaces": 1, "POST configmaps": 2, "POST services": 1}), "the first apply's requests")
	// And its writes of the Prod: its create, the finalizer, the inventory recorded before
	// the objects are created, and one status write when they landed (available at once),
	// conditions and all: no conflict with the inventory's write, no second write.
	g.Expect(minus(prodWrites(t, own.ControlPlane.Config), firstWrites)).To(Equal(
		map[string]float64{"POST prods": 1, "PATCH prods": 1, "PATCH prods/status": 2}), "the first apply's writes of the Prod")

	// A field drover does not own: another writer adds a label, an annotation and a data
	// key. The watch wakes the Prod; nothing is applied.
	before := workloadWrites(t, w.Config)
	cm := &corev1.ConfigMap{}
	g.Expect(w.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
	cm.Labels["team"] = "shop"
	cm.Annotations["note"] = "hello"
	cm.Data["extra"] = "theirs"
	g.Expect(w.Client.Update(ctx, cm, client.FieldOwner("someone-else"))).To(Succeed())
	writes := func() map[string]float64 { return minus(workloadWrites(t, w.Config), before) }
	g.Eventually(writes, 5*time.Second, 100*time.Millisecond).Should(HaveKey("PUT configmaps")) // counted a little after it answered
	g.Consistently(writes, 3*time.Second, 500*time.Millisecond).Should(Equal(map[string]float64{"PUT configmaps": 1}),
		"a change to fields drover does not own must not make drover apply")

	// Drift in a field drover applies, by another writer: put back at once by the watch.
	before = workloadWrites(t, w.Config)
	g.Expect(w.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
	cm.Data["color"] = "red"
	g.Expect(w.Client.Update(ctx, cm, client.FieldOwner("someone-else"))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(w.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
		g.Expect(cm.Data).To(HaveKeyWithValue("color", "blue"))
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed(), "drift must be put back without waiting for the resync")
	g.Expect(cm.Data).To(HaveKeyWithValue("extra", "theirs"), "what another writer owns stays")
	g.Eventually(writes, 5*time.Second, 100*time.Millisecond).Should(HaveKey("APPLY configmaps"))
	g.Consistently(writes, 2*time.Second, 500*time.Millisecond).Should(Equal(map[string]float64{"PUT configmaps": 1, "APPLY configmaps": 1}),
		"exactly one apply, of the drifted object")

	// A deleted object is made again.
	g.Expect(w.Client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other"}})).To(Succeed())
	g.Eventually(func() error {
		return w.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "other"}, &corev1.ConfigMap{})
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed(), "a deleted object must be made again without waiting for the resync")
	g.Eventually(ready, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	time.Sleep(2 * time.Second)

	// A restart with nothing changed: the new manager verifies the Prod against its caches
	// and writes nothing to the workload cluster.
	g.Expect(stop()).To(Succeed())
	stop = nil
	before = workloadWrites(t, w.Config)
	unchanged := comparedUnchanged(t)
	prodBefore := &droverv1.Prod{}
	g.Expect(own.ControlPlane.Client.Get(ctx, client.ObjectKeyFromObject(p), prodBefore)).To(Succeed())
	stop, err = suite.StartManager(ctx, own, opts)
	g.Expect(err).NotTo(HaveOccurred())
	// The restarted manager compares the Prod's three objects with its caches and finds
	// them in sync (drover_prod_objects_compared_total; this process's other manager has
	// no Prod to reconcile now); then it has written nothing.
	g.Eventually(func() float64 { return comparedUnchanged(t) - unchanged }, 30*time.Second, 250*time.Millisecond).Should(
		BeNumerically(">=", 3), func() string {
			return fmt.Sprintf("the restarted manager must verify the Prod's objects; it wrote %v", minus(workloadWrites(t, w.Config), before))
		})
	time.Sleep(3 * time.Second)
	g.Expect(minus(workloadWrites(t, w.Config), before)).To(BeEmpty(), "a restart with nothing changed must apply nothing")
	after := &droverv1.Prod{}
	g.Expect(own.ControlPlane.Client.Get(ctx, client.ObjectKeyFromObject(p), after)).To(Succeed())
	g.Expect(after.Status.Inventory).To(Equal(prodBefore.Status.Inventory))
	g.Expect(w.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
	cm.Data["color"] = "green"
	g.Expect(w.Client.Update(ctx, cm, client.FieldOwner("someone-else"))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(w.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
		g.Expect(cm.Data).To(HaveKeyWithValue("color", "blue"))
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed(), "the restarted manager must correct drift too")
}
