package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/manifests"
	"github.com/drover-dev/drover/internal/test/builder"
	"github.com/drover-dev/drover/internal/test/cloudbed"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// Fixtures shared by the user stories and the fault specs: a ProdSet like the shop of
// config/samples (a ConfigMap, a Deployment of 2 replicas, a Service of type
// LoadBalancer fronting it, mirrored to an NLB, published in the suite's hosted zone with
// health checks), RolloutPolicies with HTTP and Prometheus gates against the suite's
// check endpoint and Prometheus, and waits that read both the objects' status and what
// moto has.

const (
	// defaultSetReplicas is how many Prods newProdSet's sets run: 6 over the 4 workload
	// clusters, 3 per region, at most 2 per cluster.
	defaultSetReplicas = 6
	// defaultMaxPerCluster is newProdSet's placement.maxPerCluster.
	defaultMaxPerCluster = 2
	// defaultMinAvailable is newProdSet's serving minimum: half of 6. A rollback of 3
	// new-version Prods keeps 3 old ones serving, so it is one DNS change; a drain of a
	// cluster with 2 Prods is admitted, a second one while the first holds is not.
	defaultMinAvailable = 3
	// defaultTTL is the records' TTL in seconds: short, so that drains (INSYNC plus one
	// TTL) take seconds.
	defaultTTL = 2
	// defaultVersion is the version a new set starts at.
	defaultVersion = "v1"
	// appReplicas is the replicas of each Prod's Deployment.
	appReplicas = 2
	// octaviaPathWeight and nlbPathWeight are the steady-state weights of a Prod's two
	// path records (the NLBMirror defaults).
	octaviaPathWeight = 90
	nlbPathWeight     = 10

	// errorRatioMetric is the gauge the Prometheus gates query, by version; specs set it
	// with setErrorRatio.
	errorRatioMetric = "e2e_error_ratio"
	// errorRatioThreshold is the Prometheus gates' threshold: a version whose error ratio
	// is below it passes.
	errorRatioThreshold = "0.01"
	// goodErrorRatio and badErrorRatio are values of errorRatioMetric on either side of
	// the threshold.
	goodErrorRatio = 0.001
	badErrorRatio  = 0.5
)

// Waits of the fixtures (timeout, polling interval).
var (
	// setWait is how long a ProdSet gets to have every Prod serving at a version, with
	// its records in Route53: a new set builds 6 Octavia load balancers and NLBs, which
	// Octavia's worker takes a minute or more each to build on a loaded machine.
	setWait = []any{8 * time.Minute, 500 * time.Millisecond}
	// setDeleteWait is how long a deleted ProdSet gets to drain its Prods, delete them
	// and their records and NLBs.
	setDeleteWait = []any{4 * time.Minute, time.Second}
	// rolloutWait is how long a rollout gets to end.
	rolloutWait = []any{5 * time.Minute, 250 * time.Millisecond}
)

// prodSetOptions describes a ProdSet for newProdSet; the zero value of each field takes
// the default.
type prodSetOptions struct {
	// Name of the set, its app (the Deployment and Service names, the image), its target
	// namespace on the workload clusters and the first label of its record name
	// (<name>.example.com). Required.
	Name string
	// Namespace of the set in the control plane; defaults to the Clusters' (bed.Namespace).
	Namespace string
	// Version of the template; defaults to v1.
	Version string
	// Replicas; defaults to 6.
	Replicas int32
	// MaxPerCluster; defaults to 2.
	MaxPerCluster int32
	// MinAvailable; defaults to 3.
	MinAvailable *intstr.IntOrString
	// TTL of the records in seconds; defaults to 2.
	TTL int32
	// Policy names the set's RolloutPolicy; none by default (every Prod at once).
	Policy string
	// ClusterSelector selects the clusters; empty selects all four.
	ClusterSelector map[string]string
	// Weight of each Prod; the default (100) when nil.
	Weight *int32
	// UnreachableToleration of the placement; drover's default when nil.
	UnreachableToleration *metav1.Duration
}

// newProdSet returns a ProdSet like config/samples' shop: each Prod a ConfigMap, a
// Deployment of 2 replicas of registry.example/<name>:${DROVER_VERSION} and a Service of
// type LoadBalancer (the stand-in CCM gives it an Octavia load balancer) that fronts the
// Prod's traffic, mirrored to an NLB; spread over the regions, at most 2 per cluster;
// published as <name>.example.com in the suite's zone with a short TTL and a health check
// on each path.
func newProdSet(o prodSetOptions) *droverv1.ProdSet {
	Expect(o.Name).NotTo(BeEmpty(), "a ProdSet needs a name")
	if o.Namespace == "" {
		o.Namespace = bed.Namespace
	}
	if o.Version == "" {
		o.Version = defaultVersion
	}
	if o.Replicas == 0 {
		o.Replicas = defaultSetReplicas
	}
	if o.MaxPerCluster == 0 {
		o.MaxPerCluster = defaultMaxPerCluster
	}
	if o.MinAvailable == nil {
		o.MinAvailable = ptr.To(intstr.FromInt32(defaultMinAvailable))
	}
	if o.TTL == 0 {
		o.TTL = defaultTTL
	}
	opts := []builder.SetOption{
		builder.Replicas(o.Replicas), builder.Version(o.Version),
		builder.TemplateLabels(map[string]string{"app.kubernetes.io/name": o.Name}),
		builder.WithManifests(appManifests(o.Name)...), builder.ServiceRef(o.Name), builder.Mirrored(0),
		builder.Spread(regionLabel, o.MaxPerCluster), builder.MinAvailable(o.MinAvailable.String()),
		builder.Records(zoneID, setRecordName(o.Name), o.TTL), builder.HealthCheck(80, "/healthz"),
	}
	for k, v := range o.ClusterSelector {
		opts = append(opts, builder.OnClusters(k, v))
	}
	if o.Weight != nil {
		opts = append(opts, builder.Weight(*o.Weight))
	}
	if o.UnreachableToleration != nil {
		opts = append(opts, builder.UnreachableToleration(o.UnreachableToleration.Duration))
	}
	if o.Policy != "" {
		opts = append(opts, builder.Policy(o.Policy))
	}
	return builder.ProdSet(o.Namespace, o.Name, opts...)
}

// setRecordName is the service name of the set named name: <name>.example.com.
func setRecordName(name string) string { return name + "." + zoneName }

// appImage is the image the Prods of the set named name run at version.
func appImage(name, version string) string {
	return strings.ReplaceAll(appImageTemplate(name), manifests.VersionPlaceholder, version)
}

// waitForAppDeployments waits until the Deployment of each of the set's Prods runs the
// set's image at version and has rolled out, on the Prod's own cluster.
func waitForAppDeployments(ctx context.Context, set string, prods []droverv1.Prod, version string) {
	for i := range prods {
		p := &prods[i]
		waitForDeployment(ctx, waitForDeploymentInput{
			Getter: bed.Workload(p.Spec.ClusterRef.Name).Client, Cluster: p.Spec.ClusterRef.Name,
			Key: client.ObjectKey{Namespace: p.Spec.TargetNamespace, Name: set}, Image: appImage(set, version),
		}, deploymentWait...)
	}
}

// appImageTemplate is the image of the set named name with ${DROVER_VERSION} in it.
func appImageTemplate(name string) string {
	return "registry.example/" + name + ":" + manifests.VersionPlaceholder
}

// appManifests are the objects of one Prod of the app name: a ConfigMap, a Deployment
// of 2 replicas reading it, and a Service of type LoadBalancer in front of it.
func appManifests(name string) []builder.Object {
	labels := map[string]any{"app.kubernetes.io/name": name}
	return []builder.Object{
		{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name + "-config"},
			"data":     map[string]any{"LOG_LEVEL": "info"},
		},
		{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": name, "labels": labels},
			"spec": map[string]any{
				"replicas": appReplicas,
				"selector": map[string]any{"matchLabels": labels},
				"template": map[string]any{
					"metadata": map[string]any{"labels": labels},
					"spec": map[string]any{"containers": []any{map[string]any{
						"name":    name,
						"image":   appImageTemplate(name),
						"ports":   []any{map[string]any{"name": "http", "containerPort": 8080}},
						"envFrom": []any{map[string]any{"configMapRef": map[string]any{"name": name + "-config"}}},
					}}},
				},
			},
		},
		{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": name},
			"spec": map[string]any{
				"type":     "LoadBalancer",
				"selector": labels,
				"ports":    []any{map[string]any{"name": "http", "port": 80, "targetPort": "http"}},
			},
		},
	}
}

// createProdSet creates the set and registers its deletion (deleteProdSet) as cleanup
// of the current node, so that the specs after it start without it.
func createProdSet(ctx context.Context, set *droverv1.ProdSet) {
	Byf("Creating ProdSet %s: %d Prods at %s, published as %s", client.ObjectKeyFromObject(set), ptr.Deref(set.Spec.Replicas, 1),
		set.Spec.Template.Spec.Version, setRecordName(set.Name))
	Expect(cp.Create(ctx, set)).To(Succeed(), "creating ProdSet %s", client.ObjectKeyFromObject(set))
	key := client.ObjectKeyFromObject(set)
	DeferCleanup(func(ctx SpecContext) {
		deleteProdSet(ctx, key)
	}, NodeTimeout(setDeleteWait[0].(time.Duration)+time.Minute))
}

// deleteProdSet deletes the set (if it is there) and waits until it, its Prods, their
// records in Route53 and their NLBs are gone.
func deleteProdSet(ctx context.Context, key client.ObjectKey) {
	Byf("Deleting ProdSet %s and waiting for its Prods, records and NLBs to go", key)
	set := &droverv1.ProdSet{}
	if err := cp.Get(ctx, key, set); err == nil {
		Expect(client.IgnoreNotFound(cp.Delete(ctx, set))).To(Succeed())
	} else {
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "reading ProdSet %s: %v", key, err)
	}
	service := setRecordName(key.Name)
	Eventually(func(g Gomega) {
		err := cp.Get(ctx, key, &droverv1.ProdSet{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "ProdSet %s is still there (%v)", key, err)
		prods := &droverv1.ProdList{}
		g.Expect(cp.List(ctx, prods, client.InNamespace(key.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: key.Name})).To(Succeed())
		g.Expect(prodNames(prods.Items)).To(BeEmpty(), "the Prods of ProdSet %s", key)
		recs, err := cloudbed.ReadRecords(ctx, clouds.AWS.Route53, zoneID)
		g.Expect(err).NotTo(HaveOccurred())
		var left []string
		for _, r := range cloudbed.ProdRows(route53.DefaultOwner, recs) {
			if r.Service == service {
				left = append(left, r.Prod)
			}
		}
		g.Expect(left).To(BeEmpty(), "Prods of ProdSet %s with records under %s", key, service)
		nlbs, err := cloudbed.ReadNLBs(ctx, clouds.AWS.ELBv2, route53.DefaultOwner)
		g.Expect(err).NotTo(HaveOccurred())
		var mirrors []string
		for _, n := range nlbs {
			if strings.HasPrefix(n.Prod, key.Namespace+"/"+key.Name+"-") {
				mirrors = append(mirrors, n.Prod)
			}
		}
		g.Expect(mirrors).To(BeEmpty(), "NLBs of the Prods of ProdSet %s", key)
	}, setDeleteWait...).Should(Succeed())
}

// newRolloutPolicy returns an InPlace RolloutPolicy that rolls back on a failed gate.
func newRolloutPolicy(namespace, name string, steps ...droverv1.RolloutStep) *droverv1.RolloutPolicy {
	if namespace == "" {
		namespace = bed.Namespace
	}
	return &droverv1.RolloutPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: droverv1.RolloutPolicySpec{
			Strategy:      droverv1.InPlaceStrategy,
			FailurePolicy: droverv1.RollbackFailurePolicy,
			Steps:         steps,
		},
	}
}

// createRolloutPolicy creates the policy and registers its deletion as cleanup.
func createRolloutPolicy(ctx context.Context, p *droverv1.RolloutPolicy) {
	Byf("Creating RolloutPolicy %s with steps %v", client.ObjectKeyFromObject(p), stepNames(p.Spec.Steps))
	Expect(cp.Create(ctx, p)).To(Succeed(), "creating RolloutPolicy %s", client.ObjectKeyFromObject(p))
	DeferCleanup(func(ctx SpecContext) {
		Expect(client.IgnoreNotFound(cp.Delete(ctx, p))).To(Succeed())
	})
}

// stepNames lists the steps' names.
func stepNames(steps []droverv1.RolloutStep) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Name
	}
	return out
}

// onCluster selects the Prods on the named cluster (drover labels each Prod of a set
// with its cluster).
func onCluster(name string) *droverv1.LabelSelector {
	return &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{droverv1.ClusterNameLabel: droverv1.LabelValue(name)}}
}

// httpCheckTries and httpCheckInterval are the HTTP gates' tries per Prod and the time
// between them.
const (
	httpCheckTries    = 3
	httpCheckInterval = 500 * time.Millisecond
)

// httpCheckGate asks the suite's check endpoint about each Prod of the step, with its
// version: it passes unless checks.Fail was called for that version.
func httpCheckGate() droverv1.Gate {
	return droverv1.Gate{HTTPCheck: &droverv1.HTTPCheckGate{
		URL: checks.Template(), ExpectedStatus: http.StatusOK, Tries: httpCheckTries, SuccessPercent: 100,
		Interval: &metav1.Duration{Duration: httpCheckInterval}, Timeout: &metav1.Duration{Duration: 2 * time.Second},
	}}
}

// errorRatioQuery is the Prometheus gates' query: the error ratio of the Prod's version.
const errorRatioQuery = `max(` + errorRatioMetric + `{version="{{ .Version }}"})`

// prometheusGate asks the suite's Prometheus for the error ratio of the step Prods'
// version every half second; it passes when the ratio stays below 0.01 for window, and
// fails at the first evaluation above.
func prometheusGate(window time.Duration) droverv1.Gate {
	return droverv1.Gate{Prometheus: &droverv1.PrometheusGate{
		Address: prom.URL(), Query: errorRatioQuery, Comparison: "<", Threshold: errorRatioThreshold,
		Window: &metav1.Duration{Duration: window}, Interval: &metav1.Duration{Duration: 500 * time.Millisecond},
	}}
}

// setErrorRatio sets the error ratio the Prometheus gates read for version.
func setErrorRatio(version string, v float64) {
	exporter.Set(errorRatioMetric, map[string]string{"version": version}, v)
}

// waitForErrorRatio waits until Prometheus answers the gates' query for version with v:
// it scraped the value setErrorRatio set.
func waitForErrorRatio(ctx context.Context, version string, v float64) {
	query := strings.ReplaceAll(errorRatioQuery, "{{ .Version }}", version)
	Byf("Waiting for Prometheus to answer %s with %g", query, v)
	Eventually(func(g Gomega) {
		got, err := promQuery(ctx, query)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got).To(Equal(v))
	}, time.Minute, 250*time.Millisecond).Should(Succeed())
}

// promQuery asks the suite's Prometheus an instant query that returns one sample.
func promQuery(ctx context.Context, query string) (float64, error) {
	u := prom.URL() + "/api/v1/query?" + url.Values{"query": {query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("query %q: %s: %.300s", query, resp.Status, body)
	}
	var r struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("query %q: %w: %.300s", query, err, body)
	}
	if len(r.Data.Result) != 1 || len(r.Data.Result[0].Value) != 2 {
		return 0, fmt.Errorf("query %q: want one sample: %.300s", query, body)
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// getSet reads the set.
func getSet(ctx context.Context, g Gomega, key client.ObjectKey) *droverv1.ProdSet {
	set := &droverv1.ProdSet{}
	g.Expect(cp.Get(ctx, key, set)).To(Succeed(), "reading ProdSet %s", key)
	return set
}

// listSetProds lists the Prods of the set, sorted by name.
func listSetProds(ctx context.Context, g Gomega, key client.ObjectKey) []droverv1.Prod {
	list := &droverv1.ProdList{}
	g.Expect(cp.List(ctx, list, client.InNamespace(key.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: key.Name})).To(Succeed())
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

// prodNames lists the Prods' names.
func prodNames(prods []droverv1.Prod) []string {
	out := make([]string, len(prods))
	for i := range prods {
		out[i] = prods[i].Name
	}
	return out
}

// prodKey is the Prod's namespace/name, as drover's records and NLB tags name it.
func prodKey(p *droverv1.Prod) string { return p.Namespace + "/" + p.Name }

// prodsByCluster groups the Prods' names by their cluster.
func prodsByCluster(prods []droverv1.Prod) map[string][]string {
	out := map[string][]string{}
	for i := range prods {
		c := prods[i].Spec.ClusterRef.Name
		out[c] = append(out[c], prods[i].Name)
	}
	return out
}

// readSetRecords reads drover's records of the set's service name from moto, by Prod
// (namespace/name).
func readSetRecords(ctx context.Context, key client.ObjectKey) (map[string]cloudbed.ProdRecords, error) {
	recs, err := cloudbed.ReadRecords(ctx, clouds.AWS.Route53, zoneID)
	if err != nil {
		return nil, err
	}
	service := setRecordName(key.Name)
	out := map[string]cloudbed.ProdRecords{}
	for _, r := range cloudbed.ProdRows(route53.DefaultOwner, recs) {
		if r.Service == service {
			out[r.Prod] = r
		}
	}
	return out, nil
}

// recordWeights is the service-level weight of each Prod (namespace/name) in recs; a Prod
// without a service-level record is left out.
func recordWeights(recs map[string]cloudbed.ProdRecords) map[string]int64 {
	out := map[string]int64{}
	for k, r := range recs {
		if r.Weight != nil {
			out[k] = *r.Weight
		}
	}
	return out
}

// sameDNSName compares DNS names without case and the final dot.
func sameDNSName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// expectPathRecords checks the Prod's two path records in recs: its Octavia VIP at
// weight 90 and its NLB at 10, each with a health check.
func expectPathRecords(g Gomega, p *droverv1.Prod, r cloudbed.ProdRecords) {
	ep := p.Status.Endpoint
	g.Expect(ep).NotTo(BeNil(), "Prod %s has no status.endpoint", p.Name)
	g.Expect(r.Octavia).NotTo(BeNil(), "Prod %s has no Octavia path record", p.Name)
	g.Expect(r.Octavia.Weight).To(BeEquivalentTo(octaviaPathWeight), "Prod %s's Octavia path weight", p.Name)
	g.Expect(r.Octavia.HealthCheck).To(BeTrue(), "Prod %s's Octavia path has a health check", p.Name)
	g.Expect(r.Octavia.Target).To(Equal(ep.VIP), "Prod %s's Octavia path points at its VIP", p.Name)
	g.Expect(r.NLB).NotTo(BeNil(), "Prod %s has no NLB path record", p.Name)
	g.Expect(r.NLB.Weight).To(BeEquivalentTo(nlbPathWeight), "Prod %s's NLB path weight", p.Name)
	g.Expect(r.NLB.HealthCheck).To(BeTrue(), "Prod %s's NLB path has a health check", p.Name)
	g.Expect(sameDNSName(r.NLB.Target, ep.NLBDNSName)).To(BeTrue(), "Prod %s's NLB path points at %s, its NLB is %s", p.Name, r.NLB.Target, ep.NLBDNSName)
}

// waitForSetServingInput is the input of waitForSetServing.
type waitForSetServingInput struct {
	// Key of the ProdSet.
	Key client.ObjectKey
	// Version every Prod must run.
	Version string
	// Replicas is how many Prods the set must have; its spec.replicas when 0.
	Replicas int
	// Weight every Prod must have in Route53; the Prods' desired weight when 0.
	Weight int64
}

// waitForSetServing waits until the set's status is current and it has input.Replicas
// Prods, each on input.Version (spec and applied), ClusterReachable, Applied and
// Available, with its Octavia load balancer and NLB in status.endpoint, every one
// serving (status.servingReplicas) with TrafficReady True; and until moto has, for each
// Prod, its service-level record at its weight and its two path records (90/10, health
// checked). It returns the set and its Prods as last read.
func waitForSetServing(ctx context.Context, input waitForSetServingInput, intervals ...any) (*droverv1.ProdSet, []droverv1.Prod) {
	if len(intervals) == 0 {
		intervals = setWait
	}
	Byf("Waiting for ProdSet %s to serve %s from every Prod, its records in Route53", input.Key, input.Version)
	var (
		set   *droverv1.ProdSet
		prods []droverv1.Prod
	)
	Eventually(func(g Gomega) {
		stopIfManagerExited(manager.Manager)
		set = getSet(ctx, g, input.Key)
		want := input.Replicas
		if want == 0 {
			want = int(ptr.Deref(set.Spec.Replicas, 1))
		}
		g.Expect(set.Status.ObservedGeneration).To(Equal(set.Generation), "ProdSet %s's status is for generation %d", input.Key, set.Generation)
		prods = listSetProds(ctx, g, input.Key)
		g.Expect(prods).To(HaveLen(want), "ProdSet %s's Prods: %v", input.Key, prodNames(prods))
		for i := range prods {
			p := &prods[i]
			g.Expect(prodReady(p, input.Version)).To(BeTrue(), func() string {
				return describeProd(fmt.Sprintf("Prod %s is not ready at %s", p.Name, input.Version), p, nil)
			})
			ep := p.Status.Endpoint
			g.Expect(ep).NotTo(BeNil(), "Prod %s has no endpoint", p.Name)
			g.Expect(ep.LoadBalancerID).NotTo(BeEmpty(), "Prod %s has no Octavia load balancer", p.Name)
			g.Expect(ep.NLBARN).NotTo(BeEmpty(), "Prod %s has no NLB", p.Name)
		}
		g.Expect(set.Status.ServingReplicas).To(BeEquivalentTo(want), "ProdSet %s's servingReplicas", input.Key)
		g.Expect(meta.IsStatusConditionTrue(set.Status.Conditions, droverv1.ProdSetTrafficReadyCondition)).To(BeTrue(),
			"ProdSet %s's TrafficReady: %v", input.Key, meta.FindStatusCondition(set.Status.Conditions, droverv1.ProdSetTrafficReadyCondition))

		recs, err := readSetRecords(ctx, input.Key)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(recs).To(HaveLen(want), "Prods with records under %s", setRecordName(input.Key.Name))
		for i := range prods {
			p := &prods[i]
			r, ok := recs[prodKey(p)]
			g.Expect(ok).To(BeTrue(), "Prod %s has no records in Route53", p.Name)
			weight := input.Weight
			if weight == 0 {
				weight = int64(p.DesiredWeight())
			}
			g.Expect(r.Weight).NotTo(BeNil(), "Prod %s has no service-level record", p.Name)
			g.Expect(*r.Weight).To(Equal(weight), "Prod %s's weight in Route53", p.Name)
			expectPathRecords(g, p, r)
		}
	}, intervals...).WithOffset(1).Should(Succeed(), "ProdSet %s never served %s from all its Prods", input.Key, input.Version)
	return set, prods
}

// waitForRolloutInput is the input of waitForRollout.
type waitForRolloutInput struct {
	// Key of the ProdSet.
	Key client.ObjectKey
	// Revision of the rollout (status.rollout.revision).
	Revision string
	// Phase to wait for.
	Phase droverv1.RolloutPhase
}

// waitForRollout waits until the set's rollout of input.Revision is in input.Phase and
// returns the set. It stops early when the rollout ends in another phase.
func waitForRollout(ctx context.Context, input waitForRolloutInput, intervals ...any) *droverv1.ProdSet {
	if len(intervals) == 0 {
		intervals = rolloutWait
	}
	Byf("Waiting for the rollout of revision %s of ProdSet %s to be %s", input.Revision, input.Key, input.Phase)
	var set *droverv1.ProdSet
	Eventually(func(g Gomega) {
		stopIfManagerExited(manager.Manager)
		set = getSet(ctx, g, input.Key)
		ro := set.Status.Rollout
		g.Expect(ro).NotTo(BeNil(), "ProdSet %s has no rollout", input.Key)
		g.Expect(ro.Revision).To(Equal(input.Revision), "the rollout's revision")
		ended := ro.Phase == droverv1.RolloutSucceeded || ro.Phase == droverv1.RolloutRolledBack
		if ended && ro.Phase != input.Phase {
			StopTrying(fmt.Sprintf("the rollout of %s ended %s, not %s: %s", input.Revision, ro.Phase, input.Phase, ro.Message)).Now()
		}
		g.Expect(ro.Phase).To(Equal(input.Phase), "the rollout is at step %d (%s): %s", ro.Step, ro.StepName, ro.Message)
	}, intervals...).WithOffset(1).Should(Succeed())
	return set
}

// shipVersion sets the set's template version and returns the new revision once drover
// has seen it (status.currentRevision changed).
func shipVersion(ctx context.Context, key client.ObjectKey, version string) string {
	set := getSet(ctx, Default, key)
	before := set.Status.CurrentRevision
	Byf("Shipping %s: ProdSet %s's template version %s → %s", version, key, set.Spec.Template.Spec.Version, version)
	patch := client.MergeFrom(set.DeepCopy())
	set.Spec.Template.Spec.Version = version
	Expect(cp.Patch(ctx, set, patch)).To(Succeed())
	var revision string
	Eventually(func(g Gomega) {
		s := getSet(ctx, g, key)
		g.Expect(s.Status.ObservedGeneration).To(BeNumerically(">=", set.Generation))
		g.Expect(s.Status.CurrentRevision).NotTo(Equal(before))
		revision = s.Status.CurrentRevision
	}, time.Minute, 250*time.Millisecond).Should(Succeed(), "drover never saw version %s of ProdSet %s", version, key)
	return revision
}

// servingCount counts the set's Prods that serve right now: Available in the set's
// status and with a service-level weight above 0 in recs (Route53).
func servingCount(set *droverv1.ProdSet, recs map[string]cloudbed.ProdRecords) int {
	n := 0
	for _, p := range set.Status.Prods {
		if p.Available != metav1.ConditionTrue {
			continue
		}
		if r, ok := recs[set.Namespace+"/"+p.Name]; ok && r.Weight != nil && *r.Weight > 0 {
			n++
		}
	}
	return n
}

// servingSample is one reading of the sampler.
type servingSample struct {
	At      time.Time
	Serving int
	// MinServing is the set's status.minServing at the time.
	MinServing int
}

// servingSampler reads, every samplerInterval, each watched ProdSet's status and its
// records in moto and keeps how many of its Prods served (servingCount).
type servingSampler struct {
	sets   []client.ObjectKey
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	samples map[client.ObjectKey][]servingSample
	errs    int // failed readings (not counted as samples)
}

// samplerInterval is how often the sampler reads.
const samplerInterval = 250 * time.Millisecond

// startServingSampler starts sampling the sets in the background; stop it with stop.
func startServingSampler(sets ...client.ObjectKey) *servingSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &servingSampler{sets: sets, cancel: cancel, done: make(chan struct{}), samples: map[client.ObjectKey][]servingSample{}}
	go func() {
		defer GinkgoRecover()
		defer close(s.done)
		t := time.NewTicker(samplerInterval)
		defer t.Stop()
		for {
			s.sample(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// sample takes one reading of every set: the status first, then Route53, so that a Prod
// counted serving was Available before its weight was read.
func (s *servingSampler) sample(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, key := range s.sets {
		set := &droverv1.ProdSet{}
		err := cp.Get(rctx, key, set)
		var recs map[string]cloudbed.ProdRecords
		if err == nil {
			recs, err = readSetRecords(rctx, key)
		}
		s.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				s.errs++
			}
		} else {
			s.samples[key] = append(s.samples[key], servingSample{At: time.Now(), Serving: servingCount(set, recs), MinServing: int(set.Status.MinServing)})
		}
		s.mu.Unlock()
	}
}

// stop stops sampling and waits for the last reading.
func (s *servingSampler) stop() {
	s.cancel()
	<-s.done
}

// samplesOf returns the readings of the set.
func (s *servingSampler) samplesOf(key client.ObjectKey) []servingSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.samples[key])
}

// failedReadings is how many readings failed.
func (s *servingSampler) failedReadings() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errs
}

// belowMinimum returns the readings of the set with fewer serving Prods than min.
func (s *servingSampler) belowMinimum(key client.ObjectKey, minServing int) []servingSample {
	var out []servingSample
	for _, smp := range s.samplesOf(key) {
		if smp.Serving < minServing {
			out = append(out, smp)
		}
	}
	return out
}
