package elbv2

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
)

// MaxARNsPerDescribeTags is the most ARNs one DescribeTags call takes.
const MaxARNsPerDescribeTags = 20

// DefaultPageSize is the page size of the Describe calls: AWS's maximum.
const DefaultPageSize = 400

// notFoundCodes are ELBv2's error codes for a resource that does not exist.
var notFoundCodes = []string{"LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound", "RuleNotFound"}

var classify = awsclient.Classifier(notFoundCodes...)

// Options configure a Client.
type Options struct {
	// PageSize is the page size of DescribeLoadBalancers, DescribeTargetGroups and
	// DescribeListeners (1–400); 0 means DefaultPageSize.
	PageSize int32
}

// Client implements API over aws-sdk-go-v2's ELBv2 client (from awsclient.Clients,
// which brings the retryer and the rate limit).
type Client struct {
	sdk      *sdk.Client
	pageSize int32
}

var _ API = (*Client)(nil)

// New returns a Client calling c.
func New(c *sdk.Client, o Options) *Client {
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	return &Client{sdk: c, pageSize: o.PageSize}
}

// done counts one call of op and returns its error, wrapped with the operation's name
// and, when the resource does not exist, with cloudmetrics.ErrNotFound.
func done(op string, err error) error {
	cloudmetrics.Observe(cloudmetrics.ELBv2, op, err, classify)
	if err == nil {
		return nil
	}
	if isNotFound(err) {
		return fmt.Errorf("elbv2 %s: %w: %w", op, cloudmetrics.ErrNotFound, err)
	}
	return fmt.Errorf("elbv2 %s: %w", op, err)
}

func isNotFound(err error) bool {
	return slices.Contains(notFoundCodes, awsclient.ErrorCode(err)) || errors.Is(err, cloudmetrics.ErrNotFound)
}

// gone treats a resource that does not exist as deleted.
func gone(err error) error {
	if errors.Is(err, cloudmetrics.ErrNotFound) {
		return nil
	}
	return err
}

// LoadBalancers implements API.
func (c *Client) LoadBalancers(ctx context.Context) ([]types.LoadBalancer, error) {
	var all []types.LoadBalancer
	p := sdk.NewDescribeLoadBalancersPaginator(c.sdk, &sdk.DescribeLoadBalancersInput{PageSize: aws.Int32(c.pageSize)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err := done("DescribeLoadBalancers", err); err != nil {
			return nil, err
		}
		all = append(all, out.LoadBalancers...)
	}
	return all, nil
}

// Tags implements API. An ARN whose resource no longer exists is left out of the map
// (a chunk that fails for one is asked again one ARN at a time).
func (c *Client) Tags(ctx context.Context, arns []string) (map[string]map[string]string, error) {
	tags := make(map[string]map[string]string, len(arns))
	for chunk := range slices.Chunk(arns, MaxARNsPerDescribeTags) {
		err := c.describeTags(ctx, chunk, tags)
		if err == nil {
			continue
		}
		if !errors.Is(err, cloudmetrics.ErrNotFound) || len(chunk) == 1 {
			return nil, err
		}
		for _, arn := range chunk {
			if err := c.describeTags(ctx, []string{arn}, tags); gone(err) != nil {
				return nil, err
			}
		}
	}
	return tags, nil
}

func (c *Client) describeTags(ctx context.Context, arns []string, into map[string]map[string]string) error {
	out, err := c.sdk.DescribeTags(ctx, &sdk.DescribeTagsInput{ResourceArns: arns})
	if err := done("DescribeTags", err); err != nil {
		return err
	}
	for _, d := range out.TagDescriptions {
		m := make(map[string]string, len(d.Tags))
		for _, t := range d.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		into[aws.ToString(d.ResourceArn)] = m
	}
	return nil
}

// CreateLoadBalancer implements API.
func (c *Client) CreateLoadBalancer(ctx context.Context, in *sdk.CreateLoadBalancerInput) (*types.LoadBalancer, error) {
	out, err := c.sdk.CreateLoadBalancer(ctx, in)
	if err := done("CreateLoadBalancer", err); err != nil {
		return nil, err
	}
	if len(out.LoadBalancers) != 1 {
		return nil, fmt.Errorf("elbv2 CreateLoadBalancer %s: %d load balancers in the answer, want 1", aws.ToString(in.Name), len(out.LoadBalancers))
	}
	return &out.LoadBalancers[0], nil
}

// DeleteLoadBalancer implements API.
func (c *Client) DeleteLoadBalancer(ctx context.Context, arn string) error {
	_, err := c.sdk.DeleteLoadBalancer(ctx, &sdk.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)})
	return gone(done("DeleteLoadBalancer", err))
}

// Listeners implements API.
func (c *Client) Listeners(ctx context.Context, loadBalancerARN string) ([]types.Listener, error) {
	var all []types.Listener
	p := sdk.NewDescribeListenersPaginator(c.sdk, &sdk.DescribeListenersInput{
		LoadBalancerArn: aws.String(loadBalancerARN),
		PageSize:        aws.Int32(c.pageSize),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err := done("DescribeListeners", err); err != nil {
			return nil, err
		}
		all = append(all, out.Listeners...)
	}
	return all, nil
}

// CreateListener implements API.
func (c *Client) CreateListener(ctx context.Context, in *sdk.CreateListenerInput) (*types.Listener, error) {
	out, err := c.sdk.CreateListener(ctx, in)
	if err := done("CreateListener", err); err != nil {
		return nil, err
	}
	if len(out.Listeners) != 1 {
		return nil, fmt.Errorf("elbv2 CreateListener: %d listeners in the answer, want 1", len(out.Listeners))
	}
	return &out.Listeners[0], nil
}

// ModifyListener implements API.
func (c *Client) ModifyListener(ctx context.Context, in *sdk.ModifyListenerInput) error {
	_, err := c.sdk.ModifyListener(ctx, in)
	return done("ModifyListener", err)
}

// DeleteListener implements API.
func (c *Client) DeleteListener(ctx context.Context, arn string) error {
	_, err := c.sdk.DeleteListener(ctx, &sdk.DeleteListenerInput{ListenerArn: aws.String(arn)})
	return gone(done("DeleteListener", err))
}

// TargetGroups implements API.
func (c *Client) TargetGroups(ctx context.Context) ([]types.TargetGroup, error) {
	var all []types.TargetGroup
	p := sdk.NewDescribeTargetGroupsPaginator(c.sdk, &sdk.DescribeTargetGroupsInput{PageSize: aws.Int32(c.pageSize)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err := done("DescribeTargetGroups", err); err != nil {
			return nil, err
		}
		all = append(all, out.TargetGroups...)
	}
	return all, nil
}

// CreateTargetGroup implements API.
func (c *Client) CreateTargetGroup(ctx context.Context, in *sdk.CreateTargetGroupInput) (*types.TargetGroup, error) {
	out, err := c.sdk.CreateTargetGroup(ctx, in)
	if err := done("CreateTargetGroup", err); err != nil {
		return nil, err
	}
	if len(out.TargetGroups) != 1 {
		return nil, fmt.Errorf("elbv2 CreateTargetGroup %s: %d target groups in the answer, want 1", aws.ToString(in.Name), len(out.TargetGroups))
	}
	return &out.TargetGroups[0], nil
}

// ModifyTargetGroup implements API.
func (c *Client) ModifyTargetGroup(ctx context.Context, in *sdk.ModifyTargetGroupInput) error {
	_, err := c.sdk.ModifyTargetGroup(ctx, in)
	return done("ModifyTargetGroup", err)
}

// TargetGroupAttributes implements API.
func (c *Client) TargetGroupAttributes(ctx context.Context, arn string) (map[string]string, error) {
	out, err := c.sdk.DescribeTargetGroupAttributes(ctx, &sdk.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(arn)})
	if err := done("DescribeTargetGroupAttributes", err); err != nil {
		return nil, err
	}
	attrs := make(map[string]string, len(out.Attributes))
	for _, a := range out.Attributes {
		attrs[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	return attrs, nil
}

// ModifyTargetGroupAttributes implements API. The attributes are sent in key order.
func (c *Client) ModifyTargetGroupAttributes(ctx context.Context, arn string, attrs map[string]string) error {
	in := &sdk.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(arn)}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		in.Attributes = append(in.Attributes, types.TargetGroupAttribute{Key: aws.String(k), Value: aws.String(attrs[k])})
	}
	_, err := c.sdk.ModifyTargetGroupAttributes(ctx, in)
	return done("ModifyTargetGroupAttributes", err)
}

// DeleteTargetGroup implements API.
func (c *Client) DeleteTargetGroup(ctx context.Context, arn string) error {
	_, err := c.sdk.DeleteTargetGroup(ctx, &sdk.DeleteTargetGroupInput{TargetGroupArn: aws.String(arn)})
	return gone(done("DeleteTargetGroup", err))
}

// Targets implements API.
func (c *Client) Targets(ctx context.Context, targetGroupARN string) ([]types.TargetHealthDescription, error) {
	out, err := c.sdk.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{TargetGroupArn: aws.String(targetGroupARN)})
	if err := done("DescribeTargetHealth", err); err != nil {
		return nil, err
	}
	return out.TargetHealthDescriptions, nil
}

// RegisterTargets implements API. A failed chunk stops the call; the chunks before it
// stay registered (registering again is harmless).
func (c *Client) RegisterTargets(ctx context.Context, targetGroupARN string, targets []types.TargetDescription) error {
	for chunk := range slices.Chunk(targets, MaxTargetsPerCall) {
		_, err := c.sdk.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: aws.String(targetGroupARN), Targets: chunk})
		if err := done("RegisterTargets", err); err != nil {
			return err
		}
	}
	return nil
}

// DeregisterTargets implements API. A failed chunk stops the call; the chunks before
// it stay deregistered.
func (c *Client) DeregisterTargets(ctx context.Context, targetGroupARN string, targets []types.TargetDescription) error {
	for chunk := range slices.Chunk(targets, MaxTargetsPerCall) {
		_, err := c.sdk.DeregisterTargets(ctx, &sdk.DeregisterTargetsInput{TargetGroupArn: aws.String(targetGroupARN), Targets: chunk})
		if err := done("DeregisterTargets", err); err != nil {
			return err
		}
	}
	return nil
}
