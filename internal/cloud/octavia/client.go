package octavia

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"golang.org/x/time/rate"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
)

// Defaults of Options.
const (
	// DefaultRateLimit is the requests per second a Gophercloud client sends at most:
	// modest, since a private cloud's API is shared with everything else running there.
	DefaultRateLimit rate.Limit = 10
	// DefaultBurst is how many requests may go at once before the rate applies; one
	// snapshot of a load balancer with a few pools fits.
	DefaultBurst = 20
	// DefaultTimeout bounds each HTTP request.
	DefaultTimeout = 30 * time.Second
	// DefaultRoles are the roles sent (X-Roles) without Keystone.
	DefaultRoles = "admin,load-balancer_admin"
)

// Options configures New. Exactly one of Cloud and Endpoint is set.
type Options struct {
	// Cloud names an entry of clouds.yaml (found as the OpenStack clients find it:
	// $OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/, /etc/openstack/),
	// with secure.yaml merged in; the client authenticates with Keystone and finds
	// Octavia (service type load-balancer) in its catalog. Empty: $OS_CLOUD, if
	// Endpoint is empty too.
	Cloud string
	// CloudsFile is the clouds.yaml to read instead of searching for one.
	CloudsFile string
	// Region overrides the cloud's region_name.
	Region string

	// Endpoint is Octavia's base URL (http://host:9876/) for an Octavia without
	// Keystone (auth_strategy = noauth, as in tests): requests carry X-Project-Id:
	// ProjectID and X-Roles: Roles headers instead of a token.
	Endpoint  string
	ProjectID string
	Roles     string // defaults to DefaultRoles

	// RateLimit and Burst limit the requests sent (token bucket); zero means the
	// defaults, a negative RateLimit no limit.
	RateLimit rate.Limit
	Burst     int
	// Timeout bounds each HTTP request; zero means DefaultTimeout.
	Timeout time.Duration
	// Transport sends the requests; nil means http.DefaultTransport's clone (with the
	// clouds.yaml's TLS settings, if any).
	Transport http.RoundTripper
	// Now is the clock of Snapshot.ReadAt; nil means time.Now.
	Now func() time.Time
}

// Gophercloud is the Client backed by gophercloud's Octavia v2 API.
type Gophercloud struct {
	sc  *gophercloud.ServiceClient
	now func() time.Time
}

var _ Client = (*Gophercloud)(nil)

// New returns a Client of the Octavia opts name, authenticated with Keystone (Cloud)
// now, or without Keystone (Endpoint).
func New(ctx context.Context, opts Options) (*Gophercloud, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Roles == "" {
		opts.Roles = DefaultRoles
	}
	if opts.Cloud != "" && opts.Endpoint != "" {
		return nil, errors.New("octavia: both a cloud and an endpoint given; name one")
	}
	var (
		sc  *gophercloud.ServiceClient
		err error
	)
	if opts.Endpoint != "" {
		sc, err = noAuthClient(opts)
	} else {
		sc, err = cloudClient(ctx, opts)
	}
	if err != nil {
		return nil, err
	}
	return &Gophercloud{sc: sc, now: opts.Now}, nil
}

// httpClient is the HTTP client of every request, Keystone's included: rate limited,
// and counting Octavia's calls in cloudmetrics.
func httpClient(opts Options, base http.RoundTripper) http.Client {
	if opts.Transport != nil {
		base = opts.Transport
	}
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	limit, burst := opts.RateLimit, opts.Burst
	if limit == 0 {
		limit = DefaultRateLimit
	}
	if limit < 0 {
		limit = rate.Inf
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	return http.Client{
		Timeout:   opts.Timeout,
		Transport: &transport{base: base, limiter: rate.NewLimiter(limit, burst)},
	}
}

func noAuthClient(opts Options) (*gophercloud.ServiceClient, error) {
	if opts.ProjectID == "" {
		return nil, errors.New("octavia: an endpoint without Keystone needs a project id")
	}
	endpoint := gophercloud.NormalizeURL(opts.Endpoint)
	pc, err := openstack.NewClient(endpoint)
	if err != nil {
		return nil, fmt.Errorf("octavia: endpoint %q: %w", opts.Endpoint, err)
	}
	pc.HTTPClient = httpClient(opts, nil)
	return &gophercloud.ServiceClient{
		ProviderClient: pc,
		Endpoint:       endpoint,
		ResourceBase:   endpoint + "v2.0/",
		Type:           "load-balancer",
		MoreHeaders:    map[string]string{"X-Project-Id": opts.ProjectID, "X-Roles": opts.Roles},
	}, nil
}

func cloudClient(ctx context.Context, opts Options) (*gophercloud.ServiceClient, error) {
	var parse []clouds.ParseOption
	if opts.Cloud != "" {
		parse = append(parse, clouds.WithCloudName(opts.Cloud))
	}
	if opts.CloudsFile != "" {
		parse = append(parse, clouds.WithLocations(opts.CloudsFile))
	}
	if opts.Region != "" {
		parse = append(parse, clouds.WithRegion(opts.Region))
	}
	ao, eo, tlsConfig, err := clouds.Parse(parse...)
	if err != nil {
		return nil, fmt.Errorf("octavia: reading clouds.yaml: %w", err)
	}
	ao.AllowReauth = true // a long-running controller outlives its token
	var base http.RoundTripper
	if tlsConfig != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = tlsConfig
		base = t
	}
	pc, err := config.NewProviderClient(ctx, ao, config.WithHTTPClient(httpClient(opts, base)))
	if err != nil {
		return nil, fmt.Errorf("octavia: authenticating with Keystone at %s: %w", ao.IdentityEndpoint, err)
	}
	sc, err := openstack.NewLoadBalancerV2(pc, eo)
	if err != nil {
		return nil, fmt.Errorf("octavia: finding the load-balancer endpoint in the catalog: %w", err)
	}
	return sc, nil
}

// Snapshot implements Client. It reads, in order: the load balancer, its listeners,
// its pools, each pool's members and each pool's health monitor (from
// /v2/lbaas/healthmonitors: this Octavia's status tree names a pool's monitor
// health_monitor, which gophercloud's status tree type does not read). The load
// balancer's provisioning status is returned as read: a snapshot taken while it is
// PENDING_* is complete but may be about to change, which the caller judges.
func (c *Gophercloud) Snapshot(ctx context.Context, id string) (*Snapshot, error) {
	if err := ValidateID(id); err != nil {
		return nil, fmt.Errorf("octavia: load balancer: %w", err)
	}
	lb, err := loadbalancers.Get(ctx, c.sc, id).Extract()
	if err != nil {
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil, fmt.Errorf("octavia: load balancer %s: %w (%w)", id, cloudmetrics.ErrNotFound, err)
		}
		return nil, fmt.Errorf("octavia: reading load balancer %s: %w", id, err)
	}
	lPages, err := listeners.List(c.sc, listeners.ListOpts{LoadbalancerID: id}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("octavia: listing the listeners of load balancer %s: %w", id, err)
	}
	ls, err := listeners.ExtractListeners(lPages)
	if err != nil {
		return nil, fmt.Errorf("octavia: listing the listeners of load balancer %s: %w", id, err)
	}
	pPages, err := pools.List(c.sc, pools.ListOpts{LoadbalancerID: id}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("octavia: listing the pools of load balancer %s: %w", id, err)
	}
	ps, err := pools.ExtractPools(pPages)
	if err != nil {
		return nil, fmt.Errorf("octavia: listing the pools of load balancer %s: %w", id, err)
	}

	snap := &Snapshot{LoadBalancer: LoadBalancer{
		ID:                 lb.ID,
		Name:               lb.Name,
		VIP:                lb.VipAddress,
		ProjectID:          lb.ProjectID,
		ProvisioningStatus: lb.ProvisioningStatus,
		OperatingStatus:    lb.OperatingStatus,
		AdminStateUp:       lb.AdminStateUp,
	}}
	poolIDs := make(map[string]bool, len(ps))
	for _, p := range ps {
		// Octavia's own ids go into URLs too (members, monitors): checked all the same.
		if err := ValidateID(p.ID); err != nil {
			return nil, fmt.Errorf("octavia: load balancer %s: pool: %w", id, err)
		}
		if p.MonitorID != "" {
			if err := ValidateID(p.MonitorID); err != nil {
				return nil, fmt.Errorf("octavia: load balancer %s: health monitor of pool %s: %w", id, p.ID, err)
			}
		}
		pool, err := c.pool(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("octavia: load balancer %s: %w", id, err)
		}
		poolIDs[p.ID] = true
		snap.Pools = append(snap.Pools, pool)
	}
	for _, l := range ls {
		// A default pool that is not among the pools listed a moment earlier means the
		// load balancer changed during the read: not a snapshot.
		if l.DefaultPoolID != "" && !poolIDs[l.DefaultPoolID] {
			return nil, fmt.Errorf("octavia: load balancer %s changed during the read: listener %s's default pool %s was not listed",
				id, l.ID, l.DefaultPoolID)
		}
		snap.Listeners = append(snap.Listeners, Listener{
			ID:            l.ID,
			Name:          l.Name,
			Protocol:      l.Protocol,
			Port:          int32(l.ProtocolPort),
			DefaultPoolID: l.DefaultPoolID,
			AdminStateUp:  l.AdminStateUp,
		})
	}
	slices.SortFunc(snap.Listeners, func(a, b Listener) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(snap.Pools, func(a, b Pool) int { return cmp.Compare(a.ID, b.ID) })
	snap.ReadAt = c.now()
	return snap, nil
}

// pool reads the members and the monitor of the pool p.
func (c *Gophercloud) pool(ctx context.Context, p pools.Pool) (Pool, error) {
	out := Pool{
		ID:              p.ID,
		Name:            p.Name,
		Protocol:        p.Protocol,
		LBAlgorithm:     p.LBMethod,
		AdminStateUp:    p.AdminStateUp,
		OperatingStatus: p.OperatingStatus,
	}
	pages, err := pools.ListMembers(c.sc, p.ID, pools.ListMembersOpts{}).AllPages(ctx)
	if err != nil {
		return Pool{}, fmt.Errorf("listing the members of pool %s: %w", p.ID, err)
	}
	ms, err := pools.ExtractMembers(pages)
	if err != nil {
		return Pool{}, fmt.Errorf("listing the members of pool %s: %w", p.ID, err)
	}
	for _, m := range ms {
		out.Members = append(out.Members, Member{
			ID:              m.ID,
			Name:            m.Name,
			Address:         m.Address,
			Port:            int32(m.ProtocolPort),
			Weight:          int32(m.Weight),
			Backup:          m.Backup,
			AdminStateUp:    m.AdminStateUp,
			OperatingStatus: m.OperatingStatus,
		})
	}
	slices.SortFunc(out.Members, func(a, b Member) int {
		return cmp.Or(compareAddresses(a.Address, b.Address), cmp.Compare(a.Port, b.Port), cmp.Compare(a.ID, b.ID))
	})
	if p.MonitorID == "" {
		return out, nil
	}
	m, err := monitors.Get(ctx, c.sc, p.MonitorID).Extract()
	if err != nil {
		// Gone since the pool was read: the load balancer changed during the read.
		return Pool{}, fmt.Errorf("reading health monitor %s of pool %s: %w", p.MonitorID, p.ID, err)
	}
	out.Monitor = &Monitor{
		ID:             m.ID,
		Type:           m.Type,
		Delay:          int32(m.Delay),
		Timeout:        int32(m.Timeout),
		MaxRetries:     int32(m.MaxRetries),
		MaxRetriesDown: int32(m.MaxRetriesDown),
		HTTPMethod:     m.HTTPMethod,
		URLPath:        m.URLPath,
		ExpectedCodes:  m.ExpectedCodes,
		AdminStateUp:   m.AdminStateUp,
	}
	return out, nil
}

// compareAddresses orders IP addresses numerically, IPv4 before IPv6 (and as strings
// what does not parse, which Octavia does not accept).
func compareAddresses(a, b string) int {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA == nil && errB == nil {
		return pa.Compare(pb)
	}
	return cmp.Compare(a, b)
}
