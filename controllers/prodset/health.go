package prodset

import (
	"context"
	"errors"
	"sync"
	"time"

	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ClusterHealth is what drover knows of a workload cluster's health right now.
type ClusterHealth struct {
	// Ready: provisioned and not being deleted.
	Ready bool
	// Known: drover has tried to reach it at least once since it started. Until then a
	// cluster counts as reachable: a manager that has just started must not move traffic.
	Known bool
	// Reachable: the connection is up and the last health probe passed, and Cluster API
	// does not report its remote connection probe failing.
	Reachable bool
}

// observeCluster judges one Cluster from its object and the cluster cache.
func observeCluster(ctx context.Context, cc clustercache.ClusterCache, c *clusterv1.Cluster) ClusterHealth {
	h := ClusterHealth{
		Ready: c.DeletionTimestamp.IsZero() &&
			ptrTrue(c.Status.Initialization.InfrastructureProvisioned) &&
			ptrTrue(c.Status.Initialization.ControlPlaneInitialized),
	}
	key := client.ObjectKeyFromObject(c)
	// Cluster API's own probe, when its controllers run against this control plane.
	if conditions.IsFalse(c, clusterv1.ClusterRemoteConnectionProbeCondition) {
		h.Known = true
		return h
	}
	state := cc.GetHealthCheckingState(ctx, key)
	if state.LastProbeTime.IsZero() {
		// Not tried yet (client creations count as probes).
		h.Reachable = true
		return h
	}
	h.Known = true
	if state.ConsecutiveFailures > 0 {
		return h
	}
	if _, err := cc.GetClient(ctx, key); err != nil && errors.Is(err, clustercache.ErrClusterNotConnected) {
		return h
	}
	h.Reachable = true
	return h
}

// darkSince remembers, per ProdSet, when each cluster was first seen unreachable by this
// process. A manager restart starts the clocks again, and so does a freeze (drover does
// not trust what it saw while frozen): both only ever delay an eviction or a replacement.
type darkSince struct {
	mu    sync.Mutex
	first map[darkKey]time.Time
}

type darkKey struct {
	set     client.ObjectKey
	cluster string
}

// forgetSet restarts the clocks of one set.
func (d *darkSince) forgetSet(set client.ObjectKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.first {
		if k.set == set {
			delete(d.first, k)
		}
	}
}

// observe records whether key is reachable now and returns since when it has not been
// (zero when it is).
func (d *darkSince) observe(key darkKey, reachable bool, now time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if reachable {
		delete(d.first, key)
		return time.Time{}
	}
	if d.first == nil {
		d.first = map[darkKey]time.Time{}
	}
	t, ok := d.first[key]
	if !ok {
		t = now
		d.first[key] = t
	}
	return t
}

func ptrTrue(b *bool) bool { return b != nil && *b }
