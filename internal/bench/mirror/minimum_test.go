package mirror

import "github.com/drover-dev/drover/internal/cloud/elbv2"

// The theoretical minimum of cloud calls for one sync of a mirror, what any controller
// must at least ask to know the state and make the change, given the APIs as they are.
// The benchmark prints each measured figure beside these.

// minFirstReads is the fewest Octavia calls of a first read of the benchmark's load
// balancer (one pool with a monitor) with this many members: the load balancer (VIP,
// provisioning and admin state), its listeners, its pools, the monitor, and the members
// in pages of Octavia's largest (pagination_max_limit, 1,000 by default). (The status
// tree, GET .../status, names members by address and port but has no weights, backup
// flags, admin states, listener protocols or monitor settings, so it replaces none of
// these.)
func minFirstReads(members int) int { return 4 + ceilDiv(members, 1000) }

// minSteadyReads is the fewest Octavia calls that tell that nothing changed: the load
// balancer, whose updated_at every change through the API moves. drover reads the pool
// list too (each pool's updated_at and member ids), which also sees a member added or
// removed that did not move it.
const minSteadyReads = 1

// minChurnReads is the fewest Octavia calls that read a change of k members gone and k
// new: the load balancer, its listeners, its pools (with the member ids: the gone ones
// are those missing), the monitor, and the new members in pages of Octavia's largest.
func minChurnReads(k int) int { return 4 + ceilDiv(k, 1000) }

// minAWSReads is the fewest ELBv2 calls that read one NLB with its listeners and
// targetGroups target groups, ownership tags included: DescribeLoadBalancers,
// DescribeListeners, DescribeTargetGroups (one page each while the account has no more
// than 400; with the NLB's name as a filter, one whatever it has), DescribeTags for the
// load balancer and the target groups together (20 ARNs a call), and per target group
// DescribeTargetGroupAttributes and DescribeTargetHealth. Reading less (trusting the
// last sync's picture) would miss a change made by hand in AWS, which drover puts back.
func minAWSReads(targetGroups int) int {
	return 3 + ceilDiv(1+targetGroups, elbv2.MaxARNsPerDescribeTags) + 2*targetGroups
}

// minCreateReads is the fewest ELBv2 calls that show no NLB exists yet:
// DescribeLoadBalancers and DescribeTargetGroups finding nothing with the Prod's names.
const minCreateReads = 2

// minCreateWrites is the fewest ELBv2 calls that create an NLB with one listener and one
// target group of targets targets: CreateLoadBalancer, CreateTargetGroup,
// ModifyTargetGroupAttributes (CreateTargetGroup takes no attributes, and the
// deregistration delay differs from AWS's default), RegisterTargets in calls of
// elbv2.MaxTargetsPerCall, CreateListener.
func minCreateWrites(targets int) int {
	return 3 + ceilDiv(targets, elbv2.MaxTargetsPerCall) + 1
}

// minChurnWrites is the fewest ELBv2 calls that replace members of one target group:
// RegisterTargets for the added, DeregisterTargets for the removed, in calls of
// elbv2.MaxTargetsPerCall.
func minChurnWrites(added, removed int) int {
	return ceilDiv(added, elbv2.MaxTargetsPerCall) + ceilDiv(removed, elbv2.MaxTargetsPerCall)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
