package prod

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// createdFor is how long drover trusts its memory of a namespace it created on a
// workload cluster (createdNamespaces) while the cluster's cache of namespaces does not
// hold it yet: the cache catches up within seconds; a namespace deleted since (or a
// cluster re-created under the same name) is read again after this at the latest.
const createdFor = time.Minute

// createdNamespaces are the namespaces drover created on each workload cluster, as it
// created them, until the cluster's cache of namespaces holds them: a Prod reconciled
// again right after it created its target namespace (woken by its own status write, or
// another Prod of the same target namespace) finds it here, where the cache has it not
// yet and a live read would cost a request. The namespace found here is judged as one
// read from the cluster (refuseNamespace): only the read is skipped.
type createdNamespaces struct {
	mu sync.Mutex
	m  map[createdKey]createdNamespace
}

type createdKey struct {
	cluster client.ObjectKey
	name    string
}

type createdNamespace struct {
	ns *corev1.Namespace // stripped (stripNamespace), as the cache would hold it
	at time.Time
}

// remember records ns, just created on cluster.
func (c *createdNamespaces) remember(cluster client.ObjectKey, ns *corev1.Namespace, now time.Time) {
	stripped, _ := stripNamespace(ns.DeepCopy())
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[createdKey]createdNamespace{}
	}
	for k, v := range c.m { // what the cache never caught up with goes
		if now.Sub(v.at) >= createdFor {
			delete(c.m, k)
		}
	}
	c.m[createdKey{cluster, ns.Name}] = createdNamespace{ns: stripped.(*corev1.Namespace), at: now}
}

// get copies into ns the namespace name drover created on cluster less than createdFor
// ago, and reports whether there is one.
func (c *createdNamespaces) get(cluster client.ObjectKey, name string, ns *corev1.Namespace, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[createdKey{cluster, name}]
	if !ok || now.Sub(v.at) >= createdFor {
		return false
	}
	v.ns.DeepCopyInto(ns)
	return true
}

// forget drops the namespace: the cache holds it (or it is gone).
func (c *createdNamespaces) forget(cluster client.ObjectKey, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, createdKey{cluster, name})
}
