package prodset_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/dnsbed"
)

// A drain's weights 0 for every set go out in one change to the zone, handed to the
// publisher by the maintenance at its admission; each set then takes the change over and
// its status says what DNS holds. Deleting the maintenance brings every Prod back.
func TestADrainHandsEverySetOverInOneChange(t *testing.T) {
	g := NewWithT(t)
	sets := []*droverv1.ProdSet{newSet(t, "hand-a", 4, nil), newSet(t, "hand-b", 4, nil), newSet(t, "hand-c", 4, nil)}
	names := map[string]map[string]string{}
	for _, set := range sets {
		names[set.Name] = expectServing(g, set, eu1, eu2, us1, us2)
	}
	time.Sleep(time.Second) // nothing else in flight to the zone
	t0 := time.Now()
	m := newMaintenance(t, "hand-eu-1", eu1, false)
	got := expectPhase(g, m, droverv1.MaintenanceDrained, 60*time.Second)

	changes := dns.ZoneChanges(zone, t0, time.Now())
	g.Expect(changes).To(HaveLen(1), "the drain of three sets went out in %d changes, want 1", len(changes))
	want := map[string]int64{}
	for _, set := range sets {
		want[recordID(set, names[set.Name][eu1])] = 0
	}
	g.Expect(dnsbed.Weights(changes[0])).To(Equal(want), "the change carries the drained Prods' weights 0 and nothing else")
	g.Expect(got.Status.Handoff).NotTo(BeNil())
	g.Expect(got.Status.Handoff.ProdSets).To(ConsistOf("hand-a", "hand-b", "hand-c"))
	for _, set := range sets {
		cur := getSet(g, set)
		g.Expect(cur.Status.Traffic.Handoffs).To(ConsistOf(droverv1.TrafficHandoff{Maintenance: string(m.UID), Confirmed: true}))
		sum := summaryOf(g, set, names[set.Name][eu1])
		g.Expect(sum.PendingWeight).To(BeNil())
		g.Expect(sum.PublishedWeight).To(HaveValue(BeEquivalentTo(0)), "the set's status caught up with DNS")
		g.Expect(records(g, set)).To(HaveKeyWithValue(recordID(set, names[set.Name][eu1]), int32(0)))
	}

	deleteMaintenance(t, m)
	for _, set := range sets {
		expectServing(g, set, eu1, eu2, us1, us2)
	}

}

// A drain cancelled as soon as it is admitted, before the sets' statuses have caught up
// with the change handed over for them, restores every weight: DNS and the statuses
// agree, and the maintenance is let go only then.
func TestADrainCancelledAtOnceRestoresTheWeights(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sets := []*droverv1.ProdSet{newSet(t, "cancel-a", 4, nil), newSet(t, "cancel-b", 4, nil)}
	for _, set := range sets {
		expectServing(g, set, eu1, eu2, us1, us2)
	}
	m := newMaintenance(t, "cancel-eu-1", eu1, false)
	g.Eventually(func(g Gomega) {
		g.Expect(getMaintenance(g, m).Status.AdmittedTime).NotTo(BeNil())
	}, 30*time.Second, 20*time.Millisecond).Should(Succeed())
	g.Expect(cp.Delete(ctx, m)).To(Succeed())
	deleteMaintenance(t, m)
	for _, set := range sets {
		expectServing(g, set, eu1, eu2, us1, us2)
		for _, p := range getSet(g, set).Status.Prods {
			g.Expect(p.PendingWeight).To(BeNil())
			g.Expect(p.PublishedWeight).To(HaveValue(BeEquivalentTo(100)), "Prod %s: status and DNS agree", p.Name)
		}
	}
}

// A manager that stops after a drain's hand-off went to DNS but before a set took it
// over leaves DNS ahead of the set's status; if the maintenance is then ended, nothing
// in the set's status says its Prod is out. The maintenance's status.handoff names the
// set, and the set, finding a hand-off this manager never made, publishes every weight
// again: DNS ends as the status says. Here an earlier manager's hand-off is written into
// a maintenance's status and its weight 0 straight into Route53.
func TestASetChecksDNSAfterAHandoffOfAnEarlierManager(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	set := newSet(t, "earlier", 3, nil)
	names := expectServing(g, set, eu1, eu2, us1)
	// A maintenance of the cluster the set has no Prod on: admitted, nothing to hand.
	m := newMaintenance(t, "earlier-us-2", us2, false)
	expectPhase(g, m, droverv1.MaintenanceDrained, 60*time.Second)

	// What the earlier manager left: weight 0 in Route53 for the Prod on eu-1 ...
	setRouteWeight(ctx, g, set, names[eu1], 0)
	g.Expect(records(g, set)).To(HaveKeyWithValue(recordID(set, names[eu1]), int32(0)))
	// ... and the hand-off in the maintenance's status.
	g.Eventually(func() error {
		cur := getMaintenance(g, m)
		cur.Status.Handoff = &droverv1.MaintenanceHandoff{Time: metav1.Now(), ProdSets: []string{set.Name}}
		return cp.Status().Update(ctx, cur)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())

	g.Eventually(func(g Gomega) {
		g.Expect(records(g, set)).To(HaveKeyWithValue(recordID(set, names[eu1]), int32(100)))
		g.Expect(getSet(g, set).Status.Traffic.Handoffs).To(ConsistOf(droverv1.TrafficHandoff{Maintenance: string(m.UID), Confirmed: true}))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed(), "the set published its weights again")
	deleteMaintenance(t, m)
	expectServing(g, set, eu1, eu2, us1)
}

// setRouteWeight sets the weight of a Prod's service-level record in Route53 behind
// drover's back.
func setRouteWeight(ctx context.Context, g Gomega, set *droverv1.ProdSet, prod string, weight int64) {
	name := strings.ToLower(set.Spec.Traffic.RecordName) + "."
	out, err := dns.SDK.ListResourceRecordSets(ctx, &r53sdk.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone), StartRecordName: aws.String(name)})
	g.Expect(err).NotTo(HaveOccurred())
	for _, r := range out.ResourceRecordSets {
		if aws.ToString(r.Name) == name && strings.HasSuffix(aws.ToString(r.SetIdentifier), "/"+recordID(set, prod)) {
			r.Weight = aws.Int64(weight)
			_, err := dns.SDK.ChangeResourceRecordSets(ctx, &r53sdk.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(zone),
				ChangeBatch: &types.ChangeBatch{Changes: []types.Change{{Action: types.ChangeActionUpsert, ResourceRecordSet: &r}}}})
			g.Expect(err).NotTo(HaveOccurred())
			return
		}
	}
	g.Expect(prod).To(BeEmpty(), "no record of Prod %s in Route53", prod)
}
