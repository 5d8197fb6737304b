package prod

import (
	"fmt"
	"net/http"
	"slices"
	"sync"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// impersonators keeps one client per workload cluster and tenant identity, so that a
// reconcile does not build a transport (and its TLS connections) each time. A client is
// rebuilt when the cluster cache reconnected (its REST config is a new one).
type impersonators struct {
	mu      sync.Mutex
	clients map[impersonationKey]impersonator
}

type impersonationKey struct {
	cluster client.ObjectKey
	user    string
}

type impersonator struct {
	base   *rest.Config
	groups []string
	client client.Client
	http   *http.Client
}

// clientAs returns a client of the cluster that acts as user (with groups), from the
// cluster cache's REST config of the cluster and the REST mapper of its client base.
func (m *impersonators) clientAs(cluster client.ObjectKey, cfg *rest.Config, base client.Client, user string, groups []string) (client.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := impersonationKey{cluster: cluster, user: user}
	if c, ok := m.clients[key]; ok && c.base == cfg && slices.Equal(c.groups, groups) {
		return c.client, nil
	}
	as := rest.CopyConfig(cfg)
	as.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	httpClient, err := rest.HTTPClientFor(as)
	if err != nil {
		return nil, fmt.Errorf("a client of Cluster %s acting as %s: %w", cluster, user, err)
	}
	c, err := client.New(as, client.Options{Scheme: base.Scheme(), Mapper: base.RESTMapper(), HTTPClient: httpClient})
	if err != nil {
		return nil, fmt.Errorf("a client of Cluster %s acting as %s: %w", cluster, user, err)
	}
	if m.clients == nil {
		m.clients = map[impersonationKey]impersonator{}
	}
	if old, ok := m.clients[key]; ok {
		old.http.CloseIdleConnections()
	}
	m.clients[key] = impersonator{base: cfg, groups: slices.Clone(groups), client: c, http: httpClient}
	return c, nil
}

// forget drops the clients of a cluster that is gone or disconnected: a reconnection
// brings a new REST config, so they would not be used again.
func (m *impersonators) forget(cluster client.ObjectKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, c := range m.clients {
		if k.cluster == cluster {
			c.http.CloseIdleConnections()
			delete(m.clients, k)
		}
	}
}
