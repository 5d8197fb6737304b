package prodset_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/cluster-api/util/conditions"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/maintenance"
	"github.com/drover-dev/drover/controllers/prod"
	"github.com/drover-dev/drover/controllers/prodset"
	"github.com/drover-dev/drover/internal/test/suite"
)

// series is one sample of a scrape: its metric name, labels and value.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads the manager's metrics endpoint over HTTP, as Prometheus would.
func scrape(g Gomega) []series {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, suite.MetricsURL(), nil)
	g.Expect(err).NotTo(HaveOccurred())
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	var out []series
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSeries(line)
		g.Expect(err).NotTo(HaveOccurred(), "line %q", line)
		out = append(out, s)
	}
	g.Expect(sc.Err()).NotTo(HaveOccurred())
	return out
}

// parseSeries parses one sample line of the Prometheus text format.
func parseSeries(line string) (series, error) {
	s := series{labels: map[string]string{}}
	rest := line
	if i := strings.IndexAny(rest, "{ "); i >= 0 && rest[i] == '{' {
		s.name, rest = rest[:i], rest[i+1:]
		for !strings.HasPrefix(rest, "}") {
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return s, fmt.Errorf("no label value")
			}
			key := strings.TrimPrefix(rest[:eq], ",")
			rest = rest[eq+2:]
			var val strings.Builder
			for ; ; rest = rest[1:] {
				if rest == "" {
					return s, fmt.Errorf("unterminated label value")
				}
				if rest[0] == '\\' && len(rest) > 1 {
					val.WriteByte(rest[1])
					rest = rest[1:]
					continue
				}
				if rest[0] == '"' {
					rest = rest[1:]
					break
				}
				val.WriteByte(rest[0])
			}
			s.labels[key] = val.String()
			rest = strings.TrimPrefix(rest, ",")
		}
		rest = strings.TrimSpace(rest[1:])
	} else {
		name, value, ok := strings.Cut(rest, " ")
		if !ok {
			return s, fmt.Errorf("no value")
		}
		s.name, rest = name, value
	}
	value, _, _ := strings.Cut(rest, " ")
	v, err := strconv.ParseFloat(value, 64)
	s.value = v
	return s, err
}

// sum adds the samples of name whose labels include want; found says whether any matched.
func sum(all []series, name string, want map[string]string) (total float64, found bool) {
next:
	for _, s := range all {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		total += s.value
		found = true
	}
	return total, found
}

// TestMetricsEndpoint scrapes the manager's metrics endpoint while a ProdSet serves and
// while a maintenance drains one of its clusters: the Prods by phase, the eviction
// latency, the evicted Prods and controller-runtime's own metrics are served with sane
// values.
func TestMetricsEndpoint(t *testing.T) {
	g := NewWithT(t)
	set := newSet(t, "metrics", 2, nil)
	g.Eventually(func(g Gomega) {
		got := getSet(g, set)
		g.Expect(got.Status.ServingReplicas).To(BeEquivalentTo(2))
		g.Expect(conditions.IsTrue(got, droverv1.ProdSetTrafficReadyCondition)).To(BeTrue())
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
	ns := map[string]string{"namespace": bed.Namespace}

	before := scrape(g)
	available, ok := sum(before, "drover_prods", map[string]string{"namespace": bed.Namespace, "phase": "Available"})
	g.Expect(ok).To(BeTrue(), "drover_prods{phase=Available} is served")
	g.Expect(available).To(BeNumerically(">=", 2))
	for _, phase := range []string{"Progressing", "Unavailable", "Unreachable", "Deleting"} {
		_, ok := sum(before, "drover_prods", map[string]string{"namespace": bed.Namespace, "phase": phase})
		g.Expect(ok).To(BeTrue(), "drover_prods{phase=%s} is served, as 0 when empty", phase)
	}
	frozen, ok := sum(before, "drover_prodsets_frozen", ns)
	g.Expect(ok).To(BeTrue())
	g.Expect(frozen).To(BeZero())
	reconciles, _ := sum(before, "controller_runtime_reconcile_total", map[string]string{"controller": "prodset"})
	g.Expect(reconciles).To(BeNumerically(">", 0))
	_, ok = sum(before, "controller_runtime_reconcile_time_seconds_count", map[string]string{"controller": "prod"})
	g.Expect(ok).To(BeTrue())
	countBefore, _ := sum(before, "drover_prodset_eviction_latency_seconds_count", map[string]string{"reason": droverv1.EvictedClusterMaintenance})
	sumBefore, _ := sum(before, "drover_prodset_eviction_latency_seconds_sum", map[string]string{"reason": droverv1.EvictedClusterMaintenance})

	// Drain the cluster of one of the set's Prods: the DNS change carrying its weight 0 is
	// observed as one eviction, timed from the admission.
	var cluster string
	for c := range byCluster(g, set) {
		cluster = c
		break
	}
	m := newMaintenance(t, "metrics-drain", cluster, false)
	admitted := expectPhase(g, m, droverv1.MaintenanceDrained, 60*time.Second)
	// The decisions on the way, as events with fixed reasons.
	g.Eventually(func(g Gomega) {
		expectEvent(g, set, prodset.ReasonCreated)
		expectEvent(g, set, prodset.ReasonEvicted)
		expectEvent(g, set, prod.ReasonAvailable) // a set's Prods' routine events are on the set
		expectEvent(g, m, maintenance.ReasonAdmitted)
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	after := scrape(g)
	countAfter, _ := sum(after, "drover_prodset_eviction_latency_seconds_count", map[string]string{"reason": droverv1.EvictedClusterMaintenance})
	sumAfter, _ := sum(after, "drover_prodset_eviction_latency_seconds_sum", map[string]string{"reason": droverv1.EvictedClusterMaintenance})
	g.Expect(countAfter-countBefore).To(BeNumerically("==", 1), "one Prod evicted for the maintenance")
	latency := sumAfter - sumBefore
	drained := admitted.Status.DrainedTime.Sub(admitted.Status.AdmittedTime.Time).Seconds()
	t.Logf("eviction latency %.3fs (admitted %s, drained %.0fs later)", latency, admitted.Status.AdmittedTime.UTC().Format(time.RFC3339), drained)
	// Admission times have a resolution of a second; the change goes out within seconds
	// of it and before the cluster is drained (in sync plus a TTL).
	g.Expect(latency).To(And(BeNumerically(">=", 0), BeNumerically("<=", drained+1)))
	evicted, ok := sum(after, "drover_prodset_evicted_prods", map[string]string{"namespace": bed.Namespace, "reason": droverv1.EvictedClusterMaintenance})
	g.Expect(ok).To(BeTrue())
	g.Expect(evicted).To(BeNumerically(">=", 1))
	_, ok = sum(after, "drover_prodset_eviction_latency_seconds_bucket", map[string]string{"reason": droverv1.EvictedClusterMaintenance, "le": "+Inf"})
	g.Expect(ok).To(BeTrue())
}
