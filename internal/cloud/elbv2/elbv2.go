// Package elbv2 is drover's narrow interface to AWS Elastic Load Balancing v2: what the
// NLB mirror needs, context first, pagination hidden, every call counted in
// cloudmetrics, throttling retried by aws-sdk-go-v2's retryer and calls paced by a
// client-side rate limit below AWS's own. It uses the SDK's types, as
// aws-load-balancer-controller does; the pure translation to and from them lives in
// internal/nlb.
package elbv2

import (
	"context"

	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// MaxTargetsPerCall is the most targets one RegisterTargets or DeregisterTargets call
// carries; larger lists are sent in chunks of this size.
const MaxTargetsPerCall = 200

// API is what drover calls on ELBv2. Deletes of something already gone succeed. Errors
// for a resource that does not exist wrap cloudmetrics.ErrNotFound.
type API interface {
	// LoadBalancers returns every load balancer of the account and region (all pages).
	LoadBalancers(ctx context.Context) ([]types.LoadBalancer, error)
	// Tags returns the tags of each ARN (load balancers or target groups), asking in
	// chunks of 20 as DescribeTags allows. ARNs whose resource no longer exists are left
	// out of the map.
	Tags(ctx context.Context, arns []string) (map[string]map[string]string, error)
	CreateLoadBalancer(ctx context.Context, in *sdk.CreateLoadBalancerInput) (*types.LoadBalancer, error)
	DeleteLoadBalancer(ctx context.Context, arn string) error

	// Listeners returns the listeners of a load balancer (all pages).
	Listeners(ctx context.Context, loadBalancerARN string) ([]types.Listener, error)
	CreateListener(ctx context.Context, in *sdk.CreateListenerInput) (*types.Listener, error)
	ModifyListener(ctx context.Context, in *sdk.ModifyListenerInput) error
	DeleteListener(ctx context.Context, arn string) error

	// TargetGroups returns every target group of the account and region (all pages).
	TargetGroups(ctx context.Context) ([]types.TargetGroup, error)
	CreateTargetGroup(ctx context.Context, in *sdk.CreateTargetGroupInput) (*types.TargetGroup, error)
	ModifyTargetGroup(ctx context.Context, in *sdk.ModifyTargetGroupInput) error
	TargetGroupAttributes(ctx context.Context, arn string) (map[string]string, error)
	ModifyTargetGroupAttributes(ctx context.Context, arn string, attrs map[string]string) error
	DeleteTargetGroup(ctx context.Context, arn string) error

	// Targets returns the registered targets of a target group (DescribeTargetHealth).
	Targets(ctx context.Context, targetGroupARN string) ([]types.TargetHealthDescription, error)
	// RegisterTargets registers targets in chunks of MaxTargetsPerCall.
	RegisterTargets(ctx context.Context, targetGroupARN string, targets []types.TargetDescription) error
	// DeregisterTargets deregisters targets in chunks of MaxTargetsPerCall.
	DeregisterTargets(ctx context.Context, targetGroupARN string, targets []types.TargetDescription) error
}
