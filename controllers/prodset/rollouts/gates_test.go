package rollouts_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/checkserver"
	"github.com/drover-dev/drover/internal/test/dnsbed"
)

// A release engineer points an HTTP check at what the manager can reach and the tenant
// cannot: 127.0.0.1, where a server listens. Under the defaults (no Tenant) and under a
// Tenant that names no network, the gate fails with the refusal in the set's status,
// and no request reaches the server; the tests' own Tenant, naming 127.0.0.0/8, lets
// the same gate pass.
func TestGatesCannotReachLoopback(t *testing.T) {
	g := NewWithT(t)
	checks := checkserver.New(t)
	newPolicy(t, "loopback", droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.PauseFailurePolicy,
		Steps: []droverv1.RolloutStep{
			{Name: "canary", Count: ptr.To(intstr.FromInt32(1)), Gates: []droverv1.Gate{{HTTPCheck: &droverv1.HTTPCheckGate{
				URL: checks.Template(), ExpectedStatus: http.StatusOK, Tries: 1, SuccessPercent: 100,
				Interval: &metav1.Duration{Duration: 100 * time.Millisecond}, Timeout: &metav1.Duration{Duration: 2 * time.Second},
			}}}},
			{Name: "rest"},
		},
	})
	set := newSet(t, "loopback", "loopback", 2)
	strict := &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "rollouts-strict"},
		Spec: droverv1.TenantSpec{OctaviaProjects: []string{dnsbed.StandInProject}}}
	g.Expect(cp.Create(ctx(), strict)).To(Succeed())
	t.Cleanup(func() {
		_ = labelNamespace(ctx(), bed.Namespace, ptr.To(loopbackTenant))
		_ = cp.Delete(ctx(), strict)
	})

	// The defaults: no label. A zone no Tenant lists is theirs.
	zone := set.Spec.Traffic.HostedZoneID
	allowZone(t, loopbackTenant, zone, set.Spec.Traffic.RecordName, false)
	g.Expect(labelNamespace(ctx(), bed.Namespace, nil)).To(Succeed())
	v2 := ship(t, set, "v2")
	s := waitPhase(t, set, v2, droverv1.RolloutPaused, 90*time.Second)
	g.Expect(s.Status.Rollout.Gates).NotTo(BeEmpty())
	failed := s.Status.Rollout.Gates[len(s.Status.Rollout.Gates)-1]
	g.Expect(failed.Passed).To(BeFalse())
	g.Expect(failed.Message).To(ContainSubstring(`(last: refused: the defaults for namespace "` + bed.Namespace + `" (no Tenant) do not allow gate address 127.0.0.1 (spec.gateNetworks): it is loopback`))
	g.Expect(s.Status.Rollout.Message).To(ContainSubstring("it is loopback"))
	g.Expect(conditions.GetMessage(s, droverv1.ProdSetRolledOutCondition)).To(ContainSubstring("it is loopback"))
	expectGateFailedEvent(g, set, "it is loopback")
	g.Expect(checks.Answers()).To(BeEmpty(), "no request reached the server")

	// A Tenant naming no network: resumed, the gate runs again and is refused again.
	allowZone(t, strict.Name, zone, set.Spec.Traffic.RecordName, true)
	g.Expect(labelNamespace(ctx(), bed.Namespace, ptr.To(strict.Name))).To(Succeed())
	verdicts := len(s.Status.Rollout.Gates)
	command(t, set, "resume")
	g.Eventually(func(g Gomega) {
		s = getSet(g, set)
		g.Expect(s.Status.Rollout.Phase).To(Equal(droverv1.RolloutPaused))
		g.Expect(len(s.Status.Rollout.Gates)).To(BeNumerically(">", verdicts))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
	failed = s.Status.Rollout.Gates[len(s.Status.Rollout.Gates)-1]
	g.Expect(failed.Message).To(ContainSubstring(`refused: Tenant "rollouts-strict" does not allow gate address 127.0.0.1 (spec.gateNetworks): it is loopback`))
	g.Expect(checks.Answers()).To(BeEmpty(), "no request reached the server")

	// The tests' Tenant names 127.0.0.0/8: the same gate passes.
	allowZone(t, strict.Name, zone, set.Spec.Traffic.RecordName, false)
	allowZone(t, loopbackTenant, zone, set.Spec.Traffic.RecordName, true)
	g.Expect(labelNamespace(ctx(), bed.Namespace, ptr.To(loopbackTenant))).To(Succeed())
	command(t, set, "resume")
	waitPhase(t, set, v2, droverv1.RolloutSucceeded, 90*time.Second)
	g.Expect(checks.Answers()).To(HaveLen(1))
}

// expectGateFailedEvent waits for a RolloutGateFailed event of set saying want.
func expectGateFailedEvent(g Gomega, set *droverv1.ProdSet, want string) {
	expectSetEvent(g, set, "RolloutGateFailed", want)
}

// expectSetEvent waits for an event of set with reason whose note says want.
func expectSetEvent(g Gomega, set *droverv1.ProdSet, reason, want string) {
	g.Eventually(func(g Gomega) {
		events := &eventsv1.EventList{}
		g.Expect(cp.List(ctx(), events, client.InNamespace(set.Namespace))).To(Succeed())
		var seen []string
		for _, e := range events.Items {
			if e.Regarding.Name == set.Name && e.Reason == reason {
				seen = append(seen, e.Note)
			}
		}
		g.Expect(strings.Join(seen, "\n")).To(ContainSubstring(want), "%s events", reason)
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
}
