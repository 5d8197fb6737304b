package prodset

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// unreachableSince remembers, per ProdSet, when each cluster was first seen unreachable by this
// process. A manager restart starts the clocks again, and so does a freeze (drover does
// not trust what it saw while frozen): both only ever delay an eviction or a replacement.
type unreachableSince struct {
	mu    sync.Mutex
	first map[unreachableKey]time.Time
}

type unreachableKey struct {
	set     client.ObjectKey
	cluster string
}

// forgetSet restarts the clocks of one set.
func (d *unreachableSince) forgetSet(set client.ObjectKey) {
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
func (d *unreachableSince) observe(key unreachableKey, reachable bool, now time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if reachable {
		delete(d.first, key)
		return time.Time{}
	}
	if d.first == nil {
		d.first = map[unreachableKey]time.Time{}
	}
	t, ok := d.first[key]
	if !ok {
		t = now
		d.first[key] = t
	}
	return t
}

// prober checks workload API servers directly. The cluster cache probes each cluster
// every 10 s on its own schedule, so clusters unreachable from the same moment are noticed
// up to 10 s apart; once one is unreachable, the set asks every other one right away before it
// acts, so a freeze sees them together. Results are shared for TTL, so many sets do not
// ask the same cluster many times.
type prober struct {
	cc      clustercache.ClusterCache
	ttl     time.Duration
	timeout time.Duration

	mu   sync.Mutex
	last map[client.ObjectKey]probeResult
	// inFlight makes one probe per cluster at a time: sets that ask while it runs share
	// its answer.
	inFlight singleflight.Group
}

type probeResult struct {
	ok bool
	at time.Time
}

// reachable reports whether key's API server answers now (any answer counts).
func (p *prober) reachable(ctx context.Context, key client.ObjectKey, now time.Time) bool {
	p.mu.Lock()
	r, ok := p.last[key]
	p.mu.Unlock()
	if ok && now.Sub(r.at) < p.ttl {
		return r.ok
	}
	up, _, _ := p.inFlight.Do(key.String(), func() (any, error) { return p.probe(ctx, key, now), nil })
	return up.(bool)
}

// probe asks key's API server and records the answer.
func (p *prober) probe(ctx context.Context, key client.ObjectKey, now time.Time) bool {
	up := false
	if c, err := p.cc.GetUncachedClient(ctx, key); err == nil {
		ctx, cancel := context.WithTimeout(ctx, p.timeout)
		err := c.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, &corev1.Namespace{})
		cancel()
		var status apierrors.APIStatus
		up = err == nil || errors.As(err, &status) && !apierrors.IsServiceUnavailable(err) &&
			!apierrors.IsTimeout(err) && !apierrors.IsServerTimeout(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.last = map[client.ObjectKey]probeResult{}
	}
	p.last[key] = probeResult{ok: up, at: now}
	return up
}

// recheck asks every cluster of keys at once and returns those that did not answer.
func (p *prober) recheck(ctx context.Context, keys []client.ObjectKey, now time.Time) map[client.ObjectKey]bool {
	unreachable := map[client.ObjectKey]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			if !p.reachable(ctx, k, now) {
				mu.Lock()
				unreachable[k] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return unreachable
}

func ptrTrue(b *bool) bool { return b != nil && *b }
