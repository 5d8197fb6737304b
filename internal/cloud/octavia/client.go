package octavia

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"golang.org/x/time/rate"
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
	// DefaultFullRefresh is how often Snapshot reads every member of a load balancer
	// whatever its cheap reads say (change.go): the safety net for a change that moved
	// none of what they look at. On Octavia 11 a full read of 1,000 members costs about
	// 40 s of its API's time, of 5,000 about 20 min (pages of 10 at 2.5 s each on a loaded
	// 2-core machine).
	DefaultFullRefresh = time.Hour
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
	// Now is the clock of Snapshot.ReadAt and of FullRefresh; nil means time.Now.
	Now func() time.Time
	// FullRefresh is how often Snapshot reads every member of a load balancer whatever
	// changed; zero means DefaultFullRefresh.
	FullRefresh time.Duration
}

// Gophercloud is the Client backed by gophercloud's Octavia v2 API. It keeps the last
// complete read of each load balancer it read, to read again only what changed.
type Gophercloud struct {
	sc      *gophercloud.ServiceClient
	now     func() time.Time
	refresh time.Duration

	mu    sync.Mutex
	cache map[string]*baseline
	// last is how much the last Snapshot of each load balancer read, for the tests.
	last map[string]readKind
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
	if opts.FullRefresh <= 0 {
		opts.FullRefresh = DefaultFullRefresh
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
	return &Gophercloud{sc: sc, now: opts.Now, refresh: opts.FullRefresh, cache: map[string]*baseline{}, last: map[string]readKind{}}, nil
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
