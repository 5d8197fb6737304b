// Package octavia reads OpenStack Octavia load balancers through gophercloud v2.
//
// What drover needs from Octavia is one thing: a complete, consistent picture of one
// load balancer (its listeners, pools, members and health monitors) to mirror into an
// AWS NLB. Client.Snapshot returns exactly that, or an error: a read that failed part way
// never yields a partial Snapshot, because the mirror must change nothing in AWS when
// Octavia could not be read (docs/traffic.md, "Safety rules of the mirror").
package octavia

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// idPattern is an Octavia id: a UUID in lowercase, as Octavia writes it.
var idPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidateID says whether id is an Octavia id (a lowercase UUID, 8-4-4-4-12 hex
// digits). Every id that goes into an Octavia URL is checked first, whoever wrote it (a
// Prod's spec, its status, a workload Service's annotation, or Octavia's own answers):
// "/", ".." or "?" in an id would reach another path of the API.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%q is not an Octavia id (a lowercase UUID, 8-4-4-4-12 hex digits)", id)
	}
	return nil
}

// Client is the narrow interface drover uses; the gophercloud implementation is New.
type Client interface {
	// Snapshot reads the load balancer with id and everything under it (only what
	// changed since the last read; the load balancer alone when it is not ACTIVE). It
	// returns an error wrapping cloudmetrics.ErrNotFound when the load balancer does not
	// exist, and an error (never a partial Snapshot) when any part of the read fails.
	Snapshot(ctx context.Context, id string) (*Snapshot, error)
}

// Snapshot is one complete picture of an Octavia load balancer. Of a load balancer that
// is not ACTIVE it holds the load balancer alone, no listeners or pools.
type Snapshot struct {
	LoadBalancer LoadBalancer
	// Listeners of the load balancer, sorted by protocol and port.
	Listeners []Listener
	// Pools of the load balancer, sorted by id, each with its members and monitor.
	Pools []Pool
	// ReadAt is when the read finished.
	ReadAt time.Time
}

// LoadBalancer is an Octavia load balancer.
type LoadBalancer struct {
	ID   string
	Name string
	VIP  string
	// ProjectID is the OpenStack project the load balancer belongs to (Octavia's
	// project_id), which the tenancy policy checks.
	ProjectID          string
	ProvisioningStatus string // ACTIVE, PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE, DELETED, ERROR
	OperatingStatus    string // ONLINE, DRAINING, OFFLINE, DEGRADED, ERROR, NO_MONITOR
	AdminStateUp       bool
}

// Listener is an Octavia listener.
type Listener struct {
	ID            string
	Name          string
	Protocol      string // TCP, UDP, SCTP, HTTP, HTTPS, TERMINATED_HTTPS, PROMETHEUS
	Port          int32
	DefaultPoolID string
	AdminStateUp  bool
}

// Pool is an Octavia pool with its members and health monitor.
type Pool struct {
	ID              string
	Name            string
	Protocol        string // TCP, UDP, SCTP, HTTP, HTTPS, PROXY, PROXYV2
	LBAlgorithm     string
	AdminStateUp    bool
	OperatingStatus string
	// Members sorted by address and port.
	Members []Member
	// Monitor is the pool's health monitor; nil when it has none.
	Monitor *Monitor
}

// Member is a pool member.
type Member struct {
	ID              string
	Name            string
	Address         string
	Port            int32
	Weight          int32
	Backup          bool
	AdminStateUp    bool
	OperatingStatus string // ONLINE, DRAINING, OFFLINE, ERROR, NO_MONITOR
}

// Monitor is a pool's health monitor.
type Monitor struct {
	ID             string
	Type           string // HTTP, HTTPS, PING, TCP, TLS-HELLO, UDP-CONNECT, SCTP
	Delay          int32  // seconds between checks
	Timeout        int32  // seconds
	MaxRetries     int32  // successes to become ONLINE (1–10)
	MaxRetriesDown int32  // failures to become ERROR (1–10)
	HTTPMethod     string
	URLPath        string
	ExpectedCodes  string // "200", "200,202", "200-204"
	AdminStateUp   bool
}
