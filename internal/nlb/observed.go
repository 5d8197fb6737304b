package nlb

import "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

// Observed is what AWS has for one owner: only resources that carry the owner's tags
// (deploy.Observe reads it).
type Observed struct {
	// LoadBalancers of the owner, normally one (two while one replaces another), sorted
	// by name.
	LoadBalancers []ObservedLoadBalancer
	// TargetGroups of the owner, sorted by name.
	TargetGroups []ObservedTargetGroup
}

// ObservedLoadBalancer is one of the owner's load balancers with its listeners.
type ObservedLoadBalancer struct {
	ARN, Name, DNSName, CanonicalHostedZoneID string
	Scheme                                    types.LoadBalancerSchemeEnum
	Type                                      types.LoadBalancerTypeEnum
	State                                     types.LoadBalancerStateEnum
	VPCID                                     string
	// Subnets sorted.
	Subnets []string
	Tags    map[string]string
	// Listeners sorted by port.
	Listeners []ObservedListener
}

// Ref is the load balancer's identity.
func (lb ObservedLoadBalancer) Ref() LoadBalancerRef {
	return LoadBalancerRef{ARN: lb.ARN, Name: lb.Name, DNSName: lb.DNSName, CanonicalHostedZoneID: lb.CanonicalHostedZoneID, State: lb.State}
}

// ObservedListener is a listener of an owned load balancer.
type ObservedListener struct {
	ARN, LoadBalancerARN string
	Port                 int32
	Protocol             types.ProtocolEnum
	// TargetGroupARN is the one target group the default action forwards to; "" when
	// the default action is anything else (Diff then rewrites it).
	TargetGroupARN string
	// CertificateARN is the default certificate (TLS listeners).
	CertificateARN string
	SSLPolicy      string
}

// ObservedTargetGroup is one of the owner's target groups with its targets.
type ObservedTargetGroup struct {
	ARN, Name     string
	Protocol      types.ProtocolEnum
	Port          int32
	TargetType    types.TargetTypeEnum
	IPAddressType types.TargetGroupIpAddressTypeEnum
	VPCID         string
	// LoadBalancerARNs the target group is attached to (through listeners).
	LoadBalancerARNs []string
	HealthCheck      HealthCheck
	Attributes       map[string]string
	Tags             map[string]string
	// Targets are the registered targets, sorted, without the ones draining (already
	// deregistered).
	Targets []ObservedTarget
}

// PoolID is the Octavia pool the target group mirrors (TagOctaviaPool).
func (tg ObservedTargetGroup) PoolID() string { return tg.Tags[TagOctaviaPool] }

// Ref is the target group's identity.
func (tg ObservedTargetGroup) Ref() TargetGroupRef {
	return TargetGroupRef{ARN: tg.ARN, Name: tg.Name, PoolID: tg.PoolID()}
}

// ObservedTarget is a registered target.
type ObservedTarget struct {
	Target
	AvailabilityZone string
	State            types.TargetHealthStateEnum
}
