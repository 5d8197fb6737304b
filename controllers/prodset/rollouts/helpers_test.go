package rollouts_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/test/builder"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prodset"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/dnsbed"
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
// following the policy, and waits until they all serve, at 100 in Route53.
func newSet(t *testing.T, name, policy string, replicas int32) *droverv1.ProdSet {
	t.Helper()
	g := NewWithT(t)
	zone, err := dns.CreateZone(context.Background(), name+".example.com")
	g.Expect(err).NotTo(HaveOccurred())
	// The namespace's Tenant lets the set publish its name in its zone.
	allowZone(t, loopbackTenant, zone, name+".example.com", true)
	set := builder.ProdSet(bed.Namespace, name, builder.Replicas(replicas), builder.WithManifests(builder.Deployment("api")),
		builder.OnClusters(pool, "shop"), builder.Spread(region, 1), builder.MaxUnavailable("50%"), builder.Policy(policy),
		builder.Records(zone, name+".example.com", 1),
		// An endpoint for each Prod (dnsbed.OctaviaStandIn): Route53 records point at it.
		builder.LoadBalancer("lb-"+name),
	)
	g.Expect(cp.Create(context.Background(), set)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), set) })
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		g.Expect(s.Status.ServingReplicas).To(BeEquivalentTo(replicas))
		g.Expect(conditions.IsTrue(s, droverv1.ProdSetRolledOutCondition)).To(BeTrue(), "RolledOut: %+v", conditions.Get(s, droverv1.ProdSetRolledOutCondition))
		recs := records(g, set)
		g.Expect(recs).To(HaveLen(int(replicas)))
		for id, w := range recs {
			g.Expect(w).To(BeEquivalentTo(100), "%s serves in Route53", id)
		}
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

// records are the weights Route53 holds for the set's Prods, by Prod ("<ns>/<name>").
func records(g Gomega, set *droverv1.ProdSet) map[string]int32 {
	recs, err := dns.Records(svc(set))
	g.Expect(err).NotTo(HaveOccurred())
	return recs
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

// expectOneChange checks, on the wire (the changes the proxy in front of moto saw),
// that the first change to the set's zone submitted from from on takes every one of out
// ("<ns>/<name>") to weight 0 and no other Prod of the set, and that no other change
// to the zone was submitted before Route53 said it was INSYNC.
func expectOneChange(t *testing.T, set *droverv1.ProdSet, from time.Time, out ...string) awstest.Route53Change {
	t.Helper()
	g := NewWithT(t)
	var changes []awstest.Route53Change
	g.Eventually(func(g Gomega) {
		changes = dns.ZoneChanges(set.Spec.Traffic.HostedZoneID, from, time.Now())
		g.Expect(changes).NotTo(BeEmpty(), "no Route53 change to the zone since %s", from.Format("15:04:05.000"))
		g.Expect(changes[0].ReportedInSync).NotTo(BeZero(), "Route53 has not said INSYNC for change %s", changes[0].ID)
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	first := changes[0]
	n := 0
	for _, c := range changes {
		if !c.Submitted.After(first.ReportedInSync) {
			n++
		}
	}
	g.Expect(n).To(Equal(1), "Route53 changes to the zone from %s until the first was INSYNC: %+v", from.Format("15:04:05.000"), changes)
	weights := dnsbed.Weights(first)
	var seen []string
	for _, c := range dns.ZoneChanges(set.Spec.Traffic.HostedZoneID, from.Add(-10*time.Second), time.Now()) {
		seen = append(seen, fmt.Sprintf("%s submitted %s (INSYNC %s): %v", c.ID, c.Submitted.Format("15:04:05.000"), c.ReportedInSync.Format("15:04:05.000"), dnsbed.Weights(c)))
	}
	t.Logf("Route53 changes to the zone from 10s before %s: \n%s", from.Format("15:04:05.000"), strings.Join(seen, "\n"))
	prefix := set.Namespace + "/" + set.Name + "-"
	for _, id := range out {
		g.Expect(weights).To(HaveKeyWithValue(id, int64(0)), "the change takes %s out of traffic", id)
	}
	for id, w := range weights {
		if strings.HasPrefix(id, prefix) && !slices.Contains(out, id) {
			g.Expect(w).NotTo(BeNumerically("<=", 0), "the change takes %s out of traffic too", id)
		}
	}
	return first
}

// rolledBack reports whether the set says the rollout of revision rev is RolledBack.
func rolledBack(set *droverv1.ProdSet, rev string) func() bool {
	return func() bool {
		s := &droverv1.ProdSet{}
		return cp.Get(ctx(), client.ObjectKeyFromObject(set), s) == nil && s.Status.Rollout != nil &&
			s.Status.Rollout.Revision == rev && s.Status.Rollout.Phase == droverv1.RolloutRolledBack
	}
}

// changeTakingOut finds, on the wire, the first change to the set's zone submitted from
// from on that takes every one of out ("<ns>/<name>") to weight 0 (for
// dnsbed.WaitReported).
func changeTakingOut(set *droverv1.ProdSet, from time.Time, out ...string) func() (awstest.Route53Change, bool) {
	return func() (awstest.Route53Change, bool) {
		for _, c := range dns.ZoneChanges(set.Spec.Traffic.HostedZoneID, from, time.Now()) {
			weights := dnsbed.Weights(c)
			if !slices.ContainsFunc(out, func(id string) bool { w, ok := weights[id]; return !ok || w != 0 }) {
				return c, true
			}
		}
		return awstest.Route53Change{}, false
	}
}

func ctx() context.Context { return context.Background() }

// allowZone adds the hosted zone, with the one record name, to a Tenant's hostedZones, or
// takes it out (allow false); a zone added is taken out again when the test ends.
func allowZone(t *testing.T, tenant, zone, record string, allow bool) {
	t.Helper()
	update := func(allow bool) error {
		tn := &droverv1.Tenant{}
		if err := cp.Get(context.Background(), client.ObjectKey{Name: tenant}, tn); err != nil {
			return err
		}
		tn.Spec.HostedZones = slices.DeleteFunc(tn.Spec.HostedZones, func(z droverv1.TenantHostedZone) bool { return z.ID == zone })
		if allow {
			tn.Spec.HostedZones = append(tn.Spec.HostedZones, droverv1.TenantHostedZone{ID: zone, RecordNames: []string{record}})
		}
		return cp.Update(context.Background(), tn)
	}
	NewWithT(t).Eventually(func() error { return update(allow) }, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	if allow {
		t.Cleanup(func() { _ = update(false) })
	}
}
