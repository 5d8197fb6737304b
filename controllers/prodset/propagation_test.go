package prodset_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/dnsbed"
)

// With Route53 keeping each change PENDING for 3 s, a cluster's drain is reported
// drained only once Route53 said INSYNC for the change that took its Prod to weight 0,
// and one TTL (1 s) after (drover's rule for drained: weight 0 in sync for a TTL); the
// drain's end, the restore, is complete (the ClusterMaintenance released) only once the
// change that put the Prod back is INSYNC.
func TestDrainAndRestoreWaitForRoute53(t *testing.T) {
	g := NewWithT(t)
	set := newSet(t, "slow", 3, nil)
	names := expectServing(g, set, eu1, eu2, us1)
	prod := recordID(set, names[eu1])
	const slow, ttl = 3 * time.Second, time.Second
	dns.Proxy.Propagation(slow)
	t.Cleanup(func() { dns.Proxy.Propagation(propagation) })
	pending := dns.Proxy.Pending("GetChange")

	drainFrom := time.Now()
	m := newMaintenance(t, "slow-drain", eu1, false)
	drained := dnsbed.WaitReported(t, "the drain of "+eu1, func() bool {
		got := &droverv1.ClusterMaintenance{}
		return cp.Get(context.Background(), client.ObjectKeyFromObject(m), got) == nil && got.Status.Phase == droverv1.MaintenanceDrained
	}, func() (awstest.Route53Change, bool) { return dns.WeightChange(prod, 0, drainFrom) }, ttl, slow)
	g.Expect(records(g, set)).To(HaveKeyWithValue(prod, int32(0)))
	t.Logf("drain: submitted %s, INSYNC %s later, reported drained %s after INSYNC",
		drained.Submitted.Format("15:04:05.000"), drained.ReportedInSync.Sub(drained.Submitted).Round(time.Millisecond), drained.Reported.Sub(drained.ReportedInSync).Round(time.Millisecond))

	restoreFrom := time.Now()
	g.Expect(cp.Delete(context.Background(), m)).To(Succeed())
	restored := dnsbed.WaitReported(t, "the restore of "+eu1, func() bool {
		return apierrors.IsNotFound(cp.Get(context.Background(), client.ObjectKeyFromObject(m), &droverv1.ClusterMaintenance{}))
	}, func() (awstest.Route53Change, bool) { return dns.WeightChange(prod, 100, restoreFrom) }, 0, slow)
	g.Expect(records(g, set)).To(HaveKeyWithValue(prod, int32(100)))
	t.Logf("restore: submitted %s, INSYNC %s later, the maintenance released %s after INSYNC",
		restored.Submitted.Format("15:04:05.000"), restored.ReportedInSync.Sub(restored.Submitted).Round(time.Millisecond), restored.Reported.Sub(restored.ReportedInSync).Round(time.Millisecond))
	g.Expect(dns.Proxy.Pending("GetChange")).To(BeNumerically(">", pending), "drover asked about the changes while they were PENDING")
}
