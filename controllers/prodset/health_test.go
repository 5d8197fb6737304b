package prodset

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fakeCache answers the two questions observeCluster asks of the cluster cache.
type fakeCache struct {
	clustercache.ClusterCache
	state     clustercache.HealthCheckingState
	connected bool
}

func (f fakeCache) GetHealthCheckingState(context.Context, client.ObjectKey) clustercache.HealthCheckingState {
	return f.state
}

func (f fakeCache) GetClient(context.Context, client.ObjectKey) (client.Client, error) {
	if !f.connected {
		return nil, clustercache.ErrClusterNotConnected
	}
	return nil, nil
}

func TestObserveCluster(t *testing.T) {
	now := time.Now()
	probed := clustercache.HealthCheckingState{LastProbeTime: now, LastProbeSuccessTime: now}
	failing := clustercache.HealthCheckingState{LastProbeTime: now, LastProbeSuccessTime: now.Add(-time.Minute), ConsecutiveFailures: 2}
	ready := func(mut ...func(*clusterv1.Cluster)) *clusterv1.Cluster {
		c := &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "eu-1"}}
		c.Status.Initialization.InfrastructureProvisioned = ptr.To(true)
		c.Status.Initialization.ControlPlaneInitialized = ptr.To(true)
		for _, m := range mut {
			m(c)
		}
		return c
	}
	probeFalse := func(c *clusterv1.Cluster) {
		c.Status.Conditions = []metav1.Condition{{Type: clusterv1.ClusterRemoteConnectionProbeCondition, Status: metav1.ConditionFalse, Reason: "ProbeFailed"}}
	}
	cases := []struct {
		name    string
		cluster *clusterv1.Cluster
		cache   fakeCache
		want    ClusterHealth
	}{
		{"healthy", ready(), fakeCache{state: probed, connected: true}, ClusterHealth{Ready: true, Known: true, Reachable: true}},
		{"not probed yet counts as reachable, unknown", ready(), fakeCache{}, ClusterHealth{Ready: true, Reachable: true}},
		{"failing probes", ready(), fakeCache{state: failing, connected: true}, ClusterHealth{Ready: true, Known: true}},
		{"connection dropped", ready(), fakeCache{state: probed}, ClusterHealth{Ready: true, Known: true}},
		{"Cluster API's probe says so", ready(probeFalse), fakeCache{state: probed, connected: true}, ClusterHealth{Ready: true, Known: true}},
		{"not provisioned", ready(func(c *clusterv1.Cluster) { c.Status.Initialization.ControlPlaneInitialized = nil }),
			fakeCache{state: probed, connected: true}, ClusterHealth{Known: true, Reachable: true}},
	}
	for _, tc := range cases {
		if got := observeCluster(context.Background(), tc.cache, tc.cluster); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestUnreachableSince(t *testing.T) {
	var d unreachableSince
	t0 := time.Now()
	set := client.ObjectKey{Namespace: "default", Name: "shop"}
	other := client.ObjectKey{Namespace: "default", Name: "cart"}
	k := unreachableKey{set: set, cluster: "eu-1"}
	if got := d.observe(k, false, t0); !got.Equal(t0) {
		t.Fatalf("first seen unreachable: %v", got)
	}
	if got := d.observe(k, false, t0.Add(time.Minute)); !got.Equal(t0) {
		t.Fatalf("still unreachable keeps the first time: %v", got)
	}
	d.observe(unreachableKey{set: other, cluster: "eu-1"}, false, t0)
	d.forgetSet(set)
	if got := d.observe(k, false, t0.Add(2*time.Minute)); !got.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("a freeze restarts the clock: %v", got)
	}
	if got := d.observe(unreachableKey{set: other, cluster: "eu-1"}, false, t0.Add(2*time.Minute)); !got.Equal(t0) {
		t.Fatalf("another set's clock is its own: %v", got)
	}
	if got := d.observe(k, true, t0.Add(3*time.Minute)); !got.IsZero() {
		t.Fatalf("reachable: %v", got)
	}
}
