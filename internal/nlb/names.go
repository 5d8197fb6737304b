package nlb

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// NamePrefix starts the name of everything drover creates in ELBv2.
const NamePrefix = "drv-"

// MaxNameLength is ELBv2's limit for load balancer and target group names.
const MaxNameLength = 32

// ResourceNamePrefix is the prefix shared by the names of every load balancer and target
// group of one owner: "drv-" and 12 hex digits of a hash of the manager identity and the
// Prod UID. ELBv2 names are immutable, so the prefix is part of the ownership contract:
// Observe reads the tags only of resources whose name starts with it (and then requires
// the tags). Changing how it is derived would orphan existing resources.
func ResourceNamePrefix(o Owner) string {
	return NamePrefix + shortHash(12, "prod", o.Manager, o.UID) + "-"
}

// LoadBalancerName is the name of the owner's NLB (25 characters). It covers what cannot
// change on a load balancer (scheme, VPC), so a replacement gets a new name while the old
// one still exists (names are unique per account and region).
func LoadBalancerName(o Owner, scheme types.LoadBalancerSchemeEnum, vpcID string) string {
	return ResourceNamePrefix(o) + shortHash(8, "lb", string(scheme), vpcID)
}

// TargetGroupName is the name of the target group that mirrors an Octavia pool (32
// characters). It covers what cannot change on a target group (protocol, VPC) and the
// load balancer it may be attached to (a target group serves one load balancer only), so
// a replacement gets a new name.
func TargetGroupName(o Owner, loadBalancerName, poolID string, protocol types.ProtocolEnum, vpcID string) string {
	prefix := ResourceNamePrefix(o)
	return prefix + shortHash(MaxNameLength-len(prefix), "tg", loadBalancerName, poolID, string(protocol), vpcID)
}

// shortHash is the first n hex digits of the SHA-256 of parts.
func shortHash(n int, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:n]
}
