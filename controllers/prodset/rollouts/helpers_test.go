package rollouts_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/test/builder"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prodset"
	"github.com/drover-dev/drover/internal/traffic"
)

func newPolicy(t *testing.T, name string, spec droverv1.RolloutPolicySpec) *droverv1.RolloutPolicy {
	t.Helper()
	p := builder.RolloutPolicy(bed.Namespace, name, spec)
	NewWithT(t).Expect(cp.Create(context.Background(), p)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), p) })
	return p
}

// newSet creates a ProdSet of replicas Prods, one per cluster, spread over the regions,
// following the policy, and waits until they all serve.
func newSet(t *testing.T, name, policy string, replicas int32) *droverv1.ProdSet {
	t.Helper()
	g := NewWithT(t)
	set := builder.ProdSet(bed.Namespace, name, builder.Replicas(replicas), builder.WithManifests(builder.Deployment("api")),
		builder.OnClusters(pool, "shop"), builder.Spread(region, 1), builder.MaxUnavailable("50%"), builder.Policy(policy),
		builder.Records("Z"+strings.ToUpper(name), name+".example.com", 1))
	g.Expect(cp.Create(context.Background(), set)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), set) })
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.ServingReplicas).To(BeEquivalentTo(replicas))
		g.Expect(conditions.IsTrue(s, droverv1.ProdSetRolledOutCondition)).To(BeTrue(), "RolledOut: %+v", conditions.Get(s, droverv1.ProdSetRolledOutCondition))
		g.Expect(dns.Records(svc(set))).To(HaveLen(int(replicas)))
	}, 120*time.Second, 500*time.Millisecond).Should(Succeed())
	return set
}

func getSet(g Gomega, set *droverv1.ProdSet) *droverv1.ProdSet {
	out := &droverv1.ProdSet{}
	g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(set), out)).To(Succeed())
	return out
}

// ship changes the set's version: a new revision, rolled out through the policy.
func ship(t *testing.T, set *droverv1.ProdSet, version string) string {
	t.Helper()
	g := NewWithT(t)
	var rev string
	g.Eventually(func() error {
		s := &droverv1.ProdSet{}
		if err := cp.Get(context.Background(), client.ObjectKeyFromObject(set), s); err != nil {
			return err
		}
		s.Spec.Template.Spec.Version = version
		rev = prodset.Revision(&s.Spec.Template)
		return cp.Update(context.Background(), s)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	return rev
}

// command sets the rollout command annotation, with a unique suffix.
func command(t *testing.T, set *droverv1.ProdSet, cmd string) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, droverv1.RolloutCommandAnnotation, fmt.Sprintf("%s@%d", cmd, time.Now().UnixNano()))
	NewWithT(t).Expect(cp.Patch(context.Background(), set, client.RawPatch("application/merge-patch+json", patch))).To(Succeed())
}

// waitPhase waits for the rollout of rev to reach phase.
func waitPhase(t *testing.T, set *droverv1.ProdSet, rev string, phase droverv1.RolloutPhase, timeout time.Duration) *droverv1.ProdSet {
	t.Helper()
	var s *droverv1.ProdSet
	NewWithT(t).Eventually(func(g Gomega) {
		s = getSet(g, set)
		g.Expect(s.Status.Rollout).NotTo(BeNil())
		g.Expect(s.Status.Rollout.Revision).To(Equal(rev))
		g.Expect(s.Status.Rollout.Phase).To(Equal(phase), "rollout: %s", s.Status.Rollout.Message)
	}, timeout, 250*time.Millisecond).Should(Succeed())
	return s
}

func svc(set *droverv1.ProdSet) traffic.Service {
	return traffic.Service{Zone: set.Spec.Traffic.HostedZoneID, Name: set.Spec.Traffic.RecordName}
}

// byCluster maps cluster -> Prod name.
func byCluster(g Gomega, set *droverv1.ProdSet) map[string]string {
	list := &droverv1.ProdList{}
	g.Expect(cp.List(context.Background(), list, client.InNamespace(set.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name})).To(Succeed())
	out := map[string]string{}
	for _, p := range list.Items {
		out[p.Spec.ClusterRef.Name] = p.Name
	}
	return out
}

// transition is a Prod seen on a new revision.
type transition struct {
	prod, revision string
	at             time.Time
}

// watchRevisions records, every 50ms, each Prod of the set moving to another revision.
func watchRevisions(t *testing.T, set *droverv1.ProdSet) func() []transition {
	var mu sync.Mutex
	var out []transition
	last := map[string]string{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			list := &droverv1.ProdList{}
			if err := cp.List(ctx, list, client.InNamespace(set.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name}); err == nil {
				mu.Lock()
				for _, p := range list.Items {
					rev := p.Labels[droverv1.RevisionLabel]
					if old, seen := last[p.Name]; seen && old != rev {
						out = append(out, transition{p.Name, rev, time.Now()})
					}
					last[p.Name] = rev
				}
				mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() []transition {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(out)
	}
}

// weightHistory replays the DNS changes of the set and returns its records before the
// change at index from, and after each change from there on.
func weightHistory(set *droverv1.ProdSet, from int) (map[string]int32, []map[string]int32) {
	records := map[string]int32{}
	before := map[string]int32{}
	var out []map[string]int32
	prefix := set.Namespace + "/" + set.Name + "-"
	for i, change := range dns.Changes() {
		if i == from {
			before = maps.Clone(records)
		}
		mine := false
		for _, w := range change {
			if !strings.HasPrefix(w.ID, prefix) {
				continue
			}
			mine = true
			name := strings.TrimPrefix(w.ID, set.Namespace+"/")
			if w.Remove {
				delete(records, name)
			} else {
				records[name] = w.Weight
			}
		}
		if mine && i >= from {
			out = append(out, maps.Clone(records))
		}
	}
	return before, out
}

// checkServer answers a rollout's HTTP check and records who asked when.
type checkServer struct {
	*httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	calls  []transition // prod, "", time
}

func newCheckServer(t *testing.T) *checkServer {
	c := &checkServer{}
	c.status.Store(http.StatusOK)
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.calls = append(c.calls, transition{prod: r.URL.Query().Get("prod"), at: time.Now()})
		c.mu.Unlock()
		w.WriteHeader(int(c.status.Load()))
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *checkServer) requests() []transition {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

func ctx() context.Context { return context.Background() }
