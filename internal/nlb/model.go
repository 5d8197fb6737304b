package nlb

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Defaults.
const (
	// DefaultDeregistrationDelaySeconds is the target groups' deregistration delay when
	// Options say nothing: short, so a member that left Octavia stops getting
	// connections through the NLB soon (AWS's own default is 300 s).
	DefaultDeregistrationDelaySeconds int32 = 30
	// HealthCheckPortTraffic is ELBv2's "the target's own port".
	HealthCheckPortTraffic = "traffic-port"
)

// Target group attributes drover manages. Diff compares only these keys.
const (
	AttrDeregistrationDelay = "deregistration_delay.timeout_seconds"
	AttrProxyProtocolV2     = "proxy_protocol_v2.enabled"
	AttrPreserveClientIP    = "preserve_client_ip.enabled"
)

// attributeDefaults are AWS's values of the managed attributes for an IP target group of
// protocol TCP, used when a read does not list an attribute.
var attributeDefaults = map[string]string{
	AttrDeregistrationDelay: "300",
	AttrProxyProtocolV2:     "false",
	AttrPreserveClientIP:    "false",
}

// Health check limits of NLB target groups (CreateTargetGroup).
const (
	minInterval, maxInterval   = 5, 300
	minTimeout, maxTimeout     = 2, 120
	minThreshold, maxThreshold = 2, 10
	// NLB target groups of protocol TCP or UDP accept HTTP codes 200-599 in a matcher.
	minHTTPCode, maxHTTPCode = 200, 599
)

// DefaultHealthCheck is the health check of a pool without an (enabled) Octavia monitor:
// TCP on the traffic port, every 10 s, 3 to turn either way.
var DefaultHealthCheck = HealthCheckDefaults{IntervalSeconds: 10, TimeoutSeconds: 5, HealthyThreshold: 3, UnhealthyThreshold: 3}

// DefaultTargetCIDRs are the addresses outside the VPC that ELBv2 accepts as IP targets:
// RFC 1918 and RFC 6598.
var DefaultTargetCIDRs = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
}

// Options is everything Desired needs besides the Octavia snapshot.
type Options struct {
	// Owner of the NLB. Required.
	Owner Owner
	// Network places the NLB. Required.
	Network Network
	// DeregistrationDelaySeconds of the target groups, 0–3600; nil means
	// DefaultDeregistrationDelaySeconds (the Prod's
	// spec.traffic.mirror.deregistrationDelaySeconds).
	DeregistrationDelaySeconds *int32
	// HealthCheck is used for pools without an enabled Octavia monitor and for the fields
	// a monitor leaves at 0. Zero fields mean DefaultHealthCheck's.
	HealthCheck HealthCheckDefaults
	// TLS lets a TERMINATED_HTTPS listener be mirrored.
	TLS TLSOptions
	// TargetCIDRs are the member addresses that may be registered; nil means
	// DefaultTargetCIDRs.
	TargetCIDRs []netip.Prefix
}

// Network is where the NLB lives (the manager's flags).
type Network struct {
	// VPCID of the target groups (and of the subnets). Required.
	VPCID string
	// Subnets of the load balancer, at least one. They are set when the load balancer is
	// created; the elbv2 API drover uses cannot change them later (Diff notes a
	// difference).
	Subnets []string
	// Scheme of the load balancer; "" means internal (the manager's --nlb-scheme unset:
	// the mirror controller then keeps the scheme of an NLB that exists, see
	// KeepScheme).
	Scheme types.LoadBalancerSchemeEnum
}

// HealthCheckDefaults are the timing of a health check.
type HealthCheckDefaults struct {
	IntervalSeconds, TimeoutSeconds, HealthyThreshold, UnhealthyThreshold int32
}

// TLSOptions let the NLB terminate TLS for Octavia's TERMINATED_HTTPS listeners.
type TLSOptions struct {
	// CertificateARN is an ACM certificate for the names the Octavia listener serves;
	// empty means TERMINATED_HTTPS listeners are not mirrored.
	CertificateARN string
	// SSLPolicy of the TLS listeners; empty leaves AWS's default.
	SSLPolicy string
}

func (o Options) validate() error {
	errs := []error{o.Owner.Validate()}
	if o.Network.VPCID == "" {
		errs = append(errs, errors.New("network: the VPC id is empty"))
	}
	if len(o.Network.Subnets) == 0 {
		errs = append(errs, errors.New("network: an NLB needs at least one subnet"))
	}
	switch o.Network.Scheme {
	case "", types.LoadBalancerSchemeEnumInternetFacing, types.LoadBalancerSchemeEnumInternal:
	default:
		errs = append(errs, fmt.Errorf("network: scheme %q is neither internet-facing nor internal", o.Network.Scheme))
	}
	if d := o.DeregistrationDelaySeconds; d != nil && (*d < 0 || *d > 3600) {
		errs = append(errs, fmt.Errorf("deregistration delay %d s is outside 0–3600", *d))
	}
	return errors.Join(errs...)
}

func (o Options) scheme() types.LoadBalancerSchemeEnum {
	if o.Network.Scheme == "" {
		return types.LoadBalancerSchemeEnumInternal
	}
	return o.Network.Scheme
}

func (o Options) deregistrationDelay() int32 {
	if o.DeregistrationDelaySeconds == nil {
		return DefaultDeregistrationDelaySeconds
	}
	return *o.DeregistrationDelaySeconds
}

func (o Options) targetCIDRs() []netip.Prefix {
	if o.TargetCIDRs == nil {
		return DefaultTargetCIDRs
	}
	return o.TargetCIDRs
}

// healthCheckDefaults are Options.HealthCheck with DefaultHealthCheck in the zero fields.
func (o Options) healthCheckDefaults() HealthCheckDefaults {
	d := o.HealthCheck
	or := func(v, def int32) int32 {
		if v <= 0 {
			return def
		}
		return v
	}
	return HealthCheckDefaults{
		IntervalSeconds:    or(d.IntervalSeconds, DefaultHealthCheck.IntervalSeconds),
		TimeoutSeconds:     or(d.TimeoutSeconds, DefaultHealthCheck.TimeoutSeconds),
		HealthyThreshold:   or(d.HealthyThreshold, DefaultHealthCheck.HealthyThreshold),
		UnhealthyThreshold: or(d.UnhealthyThreshold, DefaultHealthCheck.UnhealthyThreshold),
	}
}

// Model is the NLB a Prod should have: a pure function of the Octavia snapshot and the
// Options.
type Model struct {
	// Owner of every resource.
	Owner Owner
	// OctaviaLoadBalancerID is the mirrored Octavia load balancer.
	OctaviaLoadBalancerID string
	// LoadBalancer is the one NLB of the Prod.
	LoadBalancer LoadBalancerSpec
	// TargetGroups by Octavia pool id: one per pool a mirrored listener uses.
	TargetGroups map[string]TargetGroupSpec
	// Listeners by port. An NLB has at most one listener per port, so the port is the
	// key and a protocol change is a modification of the listener.
	Listeners map[int32]ListenerSpec
}

// LoadBalancerSpec is the desired NLB.
type LoadBalancerSpec struct {
	Name   string
	Scheme types.LoadBalancerSchemeEnum
	// VPCID is the VPC of the subnets (not sent: AWS derives it from them).
	VPCID   string
	Subnets []string
	Tags    map[string]string
}

// TargetGroupSpec is the desired target group of one Octavia pool.
type TargetGroupSpec struct {
	// PoolID is the Octavia pool, the key of the target group.
	PoolID string
	Name   string
	// Protocol is TCP or UDP.
	Protocol types.ProtocolEnum
	// Port is the target group's default port: the lowest listener port that uses the
	// pool. Every target is registered with its own port, so the value carries no
	// traffic and Diff does not compare it.
	Port        int32
	VPCID       string
	HealthCheck HealthCheck
	// Attributes drover manages (AttrDeregistrationDelay and, for TCP,
	// AttrProxyProtocolV2 and AttrPreserveClientIP).
	Attributes map[string]string
	// Targets sorted by IP and port.
	Targets []Target
	Tags    map[string]string
}

// HealthCheck of a target group.
type HealthCheck struct {
	// Protocol is TCP, HTTP or HTTPS.
	Protocol types.ProtocolEnum
	// Port is HealthCheckPortTraffic or a port number.
	Port string
	// Path and Matcher (HTTP codes) apply to HTTP and HTTPS only.
	Path, Matcher                                                         string
	IntervalSeconds, TimeoutSeconds, HealthyThreshold, UnhealthyThreshold int32
}

// IsHTTP tells whether path and matcher apply.
func (h HealthCheck) IsHTTP() bool {
	return h.Protocol == types.ProtocolEnumHttp || h.Protocol == types.ProtocolEnumHttps
}

// String is a compact form for messages.
func (h HealthCheck) String() string {
	s := string(h.Protocol) + ":" + h.Port
	if h.IsHTTP() {
		s += h.Path + " [" + h.Matcher + "]"
	}
	return fmt.Sprintf("%s every %ds, timeout %ds, healthy %d, unhealthy %d", s,
		h.IntervalSeconds, h.TimeoutSeconds, h.HealthyThreshold, h.UnhealthyThreshold)
}

// ListenerSpec is the desired listener on one port.
type ListenerSpec struct {
	Port int32
	// Protocol is TCP, UDP or TLS.
	Protocol types.ProtocolEnum
	// TargetGroup is the key (Octavia pool id) of the target group it forwards to.
	TargetGroup string
	// CertificateARN and SSLPolicy apply to TLS only.
	CertificateARN, SSLPolicy string
	// OctaviaListenerID is the mirrored Octavia listener (for messages).
	OctaviaListenerID string
	// Tags are set when the listener is created (not compared).
	Tags map[string]string
}

// Target is an IP target; two targets are the same when IP and port are.
type Target struct {
	IP   string
	Port int32
}

// String is "ip:port".
func (t Target) String() string {
	return net.JoinHostPort(t.IP, strconv.Itoa(int(t.Port)))
}

// AvailabilityZoneAll is the availability zone of targets outside the VPC.
const AvailabilityZoneAll = "all"

// CompareTargets orders targets by IP address, then port.
func CompareTargets(a, b Target) int {
	if c := compareIP(a.IP, b.IP); c != 0 {
		return c
	}
	return int(a.Port) - int(b.Port)
}

func compareIP(a, b string) int {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA == nil && errB == nil {
		return pa.Compare(pb)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sortTargets(ts []Target) []Target {
	slices.SortFunc(ts, CompareTargets)
	return ts
}

// Warning is something of the Octavia load balancer the NLB does not mirror, or mirrors
// only approximately.
type Warning struct {
	// Subject names the Octavia object ("listener 1a2b (TCP:80)", "pool 3c4d").
	Subject string
	// Message says what happened and why.
	Message string
}

func (w Warning) String() string { return w.Subject + ": " + w.Message }

func i32s(v int32) string { return strconv.FormatInt(int64(v), 10) }

// Digest identifies a model (its JSON, hashed): two syncs that built the same one saw
// the same Octavia. "" if the model cannot be encoded.
func (m Model) Digest() string {
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// KeepScheme is the Network an NLB is planned in when the scheme is not set (""): the
// scheme of the owner's load balancer that exists (the first of observed with a known
// scheme), so that an NLB made while the default was internet-facing is not replaced by
// an internal one (a scheme cannot change in place: it would be a new NLB with a new DNS
// name). With no load balancer observed, or a scheme set, it is n unchanged; a new NLB
// is internal.
func KeepScheme(n Network, observed *Observed) Network {
	if n.Scheme != "" || observed == nil {
		return n
	}
	for _, lb := range observed.LoadBalancers {
		switch lb.Scheme {
		case types.LoadBalancerSchemeEnumInternetFacing, types.LoadBalancerSchemeEnumInternal:
			n.Scheme = lb.Scheme
			return n
		}
	}
	return n
}
