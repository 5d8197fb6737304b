package workload

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/tenancy"
)

// Impersonators keeps one client per workload cluster and tenant identity, so that a
// reconcile does not build a transport (and its TLS connections) each time. A client is
// rebuilt when the cluster cache reconnected (its REST config is a new one).
type Impersonators struct {
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

// ClientAs returns a client of the cluster that acts as user (with groups), from the
// cluster cache's REST config of the cluster and the REST mapper of its client base.
func (m *Impersonators) ClientAs(cluster client.ObjectKey, cfg *rest.Config, base client.Client, user string, groups []string) (client.Client, error) {
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

// Forget drops the clients of a cluster that is gone or disconnected: a reconnection
// brings a new REST config, so they would not be used again.
func (m *Impersonators) Forget(cluster client.ObjectKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, c := range m.clients {
		if k.cluster == cluster {
			c.http.CloseIdleConnections()
			delete(m.clients, k)
		}
	}
}

// As returns the client of a workload cluster that acts as the identity policy names
// there: admin (drover's own client of the cluster) when the policy lets a Prod act as
// drover, else a client impersonating the policy's user. When the policy names no
// identity it returns the refusal and no client: nothing may be applied or read for the
// Prod. The Prod controller's applies and the ReleaseDiff controller's dry-runs both act
// through it, so a dry-run is made as the same identity the apply is.
func (m *Impersonators) As(ctx context.Context, cc clustercache.ClusterCache, cluster client.ObjectKey, admin client.Client, policy tenancy.Policy) (client.Client, *tenancy.Refusal, error) {
	id, ref := policy.Identity()
	switch {
	case ref != nil:
		return nil, ref, nil
	case !id.Impersonate:
		return admin, nil, nil
	}
	cfg, err := cc.GetRESTConfig(ctx, cluster)
	if err != nil {
		return nil, nil, fmt.Errorf("the REST config of Cluster %s: %w", cluster, err)
	}
	// Only the user: for a ServiceAccount's user name the API server adds its groups
	// itself, and impersonating groups would need more rights on every cluster.
	c, err := m.ClientAs(cluster, cfg, admin, id.User, nil)
	if err != nil {
		return nil, nil, err
	}
	return c, nil, nil
}
