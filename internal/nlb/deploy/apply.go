package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/elbv2"
	"github.com/drover-dev/drover/internal/nlb"
)

// ErrBlocked is returned by Apply for a blocked plan; nothing was changed.
var ErrBlocked = errors.New("the NLB plan is blocked by the target removal guard")

// Result is what Apply did.
type Result struct {
	// LoadBalancer is the load balancer the model lives on: the plan's, or the one Apply
	// created (set as soon as it exists, even when a later step fails).
	LoadBalancer nlb.LoadBalancerRef
	// Done counts the steps that succeeded.
	Done nlb.Counts
}

// String is what was done ("created 1 load balancer, …", or "nothing").
func (r Result) String() string { return r.Done.PastTense() }

// Apply carries out the plan; it is the only step that writes to AWS. It runs in
// dependency order — create the load balancer, create (with their attributes) and modify
// target groups, register targets, create and modify listeners, deregister targets,
// delete listeners, delete load balancers, delete target groups — so traffic always has
// somewhere to go: new targets are in before listeners switch to them, and old ones leave
// only after. It stops at the first error and returns what was done with it; every step
// is idempotent in AWS and the next sync's Observe and Diff plan only what is left. A
// blocked plan changes nothing and returns ErrBlocked.
func Apply(ctx context.Context, api elbv2.API, plan nlb.Plan) (Result, error) {
	res := Result{LoadBalancer: plan.LoadBalancer}
	if plan.Blocked {
		return res, fmt.Errorf("%w: %s", ErrBlocked, strings.Join(plan.BlockedReasons, "; "))
	}
	tgARNs := maps.Clone(plan.TargetGroupARNs)
	if tgARNs == nil {
		tgARNs = map[string]string{}
	}
	arnOf := func(ref nlb.TargetGroupRef) (string, error) {
		if ref.ARN != "" {
			return ref.ARN, nil
		}
		if arn := tgARNs[ref.PoolID]; arn != "" {
			return arn, nil
		}
		return "", fmt.Errorf("target group %s has no ARN: it is neither in AWS nor created by this plan", ref)
	}

	if spec := plan.CreateLoadBalancer; spec != nil {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		lb, err := api.CreateLoadBalancer(ctx, buildCreateLoadBalancerInput(*spec))
		if err != nil {
			return res, fmt.Errorf("create load balancer %s: %w", spec.Name, err)
		}
		if lb == nil || aws.ToString(lb.LoadBalancerArn) == "" {
			return res, fmt.Errorf("create load balancer %s: AWS returned no ARN", spec.Name)
		}
		if err := checkOwned(ctx, api, aws.ToString(lb.LoadBalancerArn), spec.Tags); err != nil {
			return res, fmt.Errorf("create load balancer %s: %w", spec.Name, err)
		}
		res.LoadBalancer = nlb.LoadBalancerRef{
			ARN:                   aws.ToString(lb.LoadBalancerArn),
			Name:                  aws.ToString(lb.LoadBalancerName),
			DNSName:               aws.ToString(lb.DNSName),
			CanonicalHostedZoneID: aws.ToString(lb.CanonicalHostedZoneId),
		}
		if lb.State != nil {
			res.LoadBalancer.State = lb.State.Code
		}
		res.Done.CreateLoadBalancers++
	}

	for _, spec := range plan.CreateTargetGroups {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		tg, err := api.CreateTargetGroup(ctx, buildCreateTargetGroupInput(spec))
		if err != nil {
			return res, fmt.Errorf("create target group %s for Octavia pool %s: %w", spec.Name, spec.PoolID, err)
		}
		arn := ""
		if tg != nil {
			arn = aws.ToString(tg.TargetGroupArn)
		}
		if arn == "" {
			return res, fmt.Errorf("create target group %s: AWS returned no ARN", spec.Name)
		}
		if err := checkOwned(ctx, api, arn, spec.Tags); err != nil {
			return res, fmt.Errorf("create target group %s for Octavia pool %s: %w", spec.Name, spec.PoolID, err)
		}
		tgARNs[spec.PoolID] = arn
		res.Done.CreateTargetGroups++
		// A new target group has AWS's defaults; set the managed attributes that differ.
		if attrs, _ := nlb.AttributeChanges(spec.Attributes, nil); len(attrs) > 0 {
			if err := api.ModifyTargetGroupAttributes(ctx, arn, attrs); err != nil {
				return res, fmt.Errorf("set attributes of target group %s: %w", spec.Name, err)
			}
		}
	}

	for _, mod := range plan.ModifyTargetGroups {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if mod.HealthCheck != nil {
			if err := api.ModifyTargetGroup(ctx, buildModifyTargetGroupInput(mod.TargetGroup.ARN, *mod.HealthCheck)); err != nil {
				return res, fmt.Errorf("modify health check of target group %s: %w", mod.TargetGroup, err)
			}
		}
		if len(mod.Attributes) > 0 {
			if err := api.ModifyTargetGroupAttributes(ctx, mod.TargetGroup.ARN, mod.Attributes); err != nil {
				return res, fmt.Errorf("modify attributes of target group %s: %w", mod.TargetGroup, err)
			}
		}
		res.Done.ModifyTargetGroups++
	}

	for _, r := range plan.RegisterTargets {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		arn, err := arnOf(r.TargetGroup)
		if err != nil {
			return res, err
		}
		if err := api.RegisterTargets(ctx, arn, targetDescriptions(r.Targets)); err != nil {
			return res, fmt.Errorf("register %d targets with target group %s: %w", len(r.Targets), r.TargetGroup, err)
		}
		res.Done.RegisterTargets += len(r.Targets)
	}

	for _, spec := range plan.CreateListeners {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if res.LoadBalancer.ARN == "" {
			return res, fmt.Errorf("create listener %s:%d: the plan has no load balancer", spec.Protocol, spec.Port)
		}
		tgARN, err := arnOf(nlb.TargetGroupRef{PoolID: spec.TargetGroup})
		if err != nil {
			return res, err
		}
		if _, err := api.CreateListener(ctx, buildCreateListenerInput(res.LoadBalancer.ARN, spec, tgARN)); err != nil {
			return res, fmt.Errorf("create listener %s:%d: %w", spec.Protocol, spec.Port, err)
		}
		res.Done.CreateListeners++
	}

	for _, mod := range plan.ModifyListeners {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		tgARN, err := arnOf(nlb.TargetGroupRef{PoolID: mod.Listener.TargetGroup})
		if err != nil {
			return res, err
		}
		if err := api.ModifyListener(ctx, buildModifyListenerInput(mod.ARN, mod.Listener, tgARN)); err != nil {
			return res, fmt.Errorf("modify listener %s:%d (%s): %w", mod.Protocol, mod.Port, strings.Join(mod.Changes, ", "), err)
		}
		res.Done.ModifyListeners++
	}

	for _, d := range plan.DeregisterTargets {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		arn, err := arnOf(d.TargetGroup)
		if err != nil {
			return res, err
		}
		if err := api.DeregisterTargets(ctx, arn, targetDescriptions(d.Targets)); err != nil {
			return res, fmt.Errorf("deregister %d targets from target group %s: %w", len(d.Targets), d.TargetGroup, err)
		}
		res.Done.DeregisterTargets += len(d.Targets)
	}

	for _, l := range plan.DeleteListeners {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := api.DeleteListener(ctx, l.ARN); err != nil {
			return res, fmt.Errorf("delete listener %s:%d: %w", l.Protocol, l.Port, err)
		}
		res.Done.DeleteListeners++
	}

	for _, lb := range plan.DeleteLoadBalancers {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := api.DeleteLoadBalancer(ctx, lb.ARN); err != nil {
			return res, fmt.Errorf("delete load balancer %s: %w", lb.Name, err)
		}
		res.Done.DeleteLoadBalancers++
	}

	for _, tg := range plan.DeleteTargetGroups {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := api.DeleteTargetGroup(ctx, tg.ARN); err != nil {
			return res, fmt.Errorf("delete target group %s: %w", tg, err)
		}
		res.Done.DeleteTargetGroups++
	}
	return res, nil
}

// ErrNotOwned is returned by Apply when a create returned an existing resource that does
// not carry the plan's ownership tags (ELBv2 creates are idempotent by name, so a
// resource of that name whose tags were removed by hand would otherwise be adopted).
var ErrNotOwned = errors.New("exists without drover's ownership tags; not adopting it")

// checkOwned verifies that the resource a create returned carries the ownership tags of
// want (the tags it was created with).
func checkOwned(ctx context.Context, api elbv2.API, arn string, want map[string]string) error {
	got, err := api.Tags(ctx, []string{arn})
	if err != nil {
		return fmt.Errorf("read tags of %s: %w", arn, err)
	}
	owner := nlb.Owner{Manager: want[nlb.TagOwner], UID: want[nlb.TagProdUID]}
	if !owner.Owns(got[arn]) {
		return fmt.Errorf("%s %w", arn, ErrNotOwned)
	}
	return nil
}

// buildCreateLoadBalancerInput translates a load balancer spec for the SDK.
func buildCreateLoadBalancerInput(s nlb.LoadBalancerSpec) *sdk.CreateLoadBalancerInput {
	return &sdk.CreateLoadBalancerInput{
		Name:          aws.String(s.Name),
		Type:          types.LoadBalancerTypeEnumNetwork,
		Scheme:        s.Scheme,
		IpAddressType: types.IpAddressTypeIpv4,
		Subnets:       slices.Clone(s.Subnets),
		Tags:          sdkTags(s.Tags),
	}
}

// buildCreateTargetGroupInput translates a target group spec for the SDK.
func buildCreateTargetGroupInput(s nlb.TargetGroupSpec) *sdk.CreateTargetGroupInput {
	in := &sdk.CreateTargetGroupInput{
		Name:                       aws.String(s.Name),
		Protocol:                   s.Protocol,
		Port:                       aws.Int32(s.Port),
		VpcId:                      aws.String(s.VPCID),
		TargetType:                 types.TargetTypeEnumIp,
		IpAddressType:              types.TargetGroupIpAddressTypeEnumIpv4,
		HealthCheckEnabled:         aws.Bool(true),
		HealthCheckProtocol:        s.HealthCheck.Protocol,
		HealthCheckPort:            aws.String(s.HealthCheck.Port),
		HealthCheckIntervalSeconds: aws.Int32(s.HealthCheck.IntervalSeconds),
		HealthCheckTimeoutSeconds:  aws.Int32(s.HealthCheck.TimeoutSeconds),
		HealthyThresholdCount:      aws.Int32(s.HealthCheck.HealthyThreshold),
		UnhealthyThresholdCount:    aws.Int32(s.HealthCheck.UnhealthyThreshold),
		Tags:                       sdkTags(s.Tags),
	}
	if s.HealthCheck.IsHTTP() {
		in.HealthCheckPath = aws.String(s.HealthCheck.Path)
		in.Matcher = &types.Matcher{HttpCode: aws.String(s.HealthCheck.Matcher)}
	}
	return in
}

// buildModifyTargetGroupInput sets the whole health check of a target group.
func buildModifyTargetGroupInput(arn string, hc nlb.HealthCheck) *sdk.ModifyTargetGroupInput {
	in := &sdk.ModifyTargetGroupInput{
		TargetGroupArn:             aws.String(arn),
		HealthCheckEnabled:         aws.Bool(true),
		HealthCheckProtocol:        hc.Protocol,
		HealthCheckPort:            aws.String(hc.Port),
		HealthCheckIntervalSeconds: aws.Int32(hc.IntervalSeconds),
		HealthCheckTimeoutSeconds:  aws.Int32(hc.TimeoutSeconds),
		HealthyThresholdCount:      aws.Int32(hc.HealthyThreshold),
		UnhealthyThresholdCount:    aws.Int32(hc.UnhealthyThreshold),
	}
	if hc.IsHTTP() {
		in.HealthCheckPath = aws.String(hc.Path)
		in.Matcher = &types.Matcher{HttpCode: aws.String(hc.Matcher)}
	}
	return in
}

// buildCreateListenerInput translates a listener spec for the SDK.
func buildCreateListenerInput(lbARN string, s nlb.ListenerSpec, tgARN string) *sdk.CreateListenerInput {
	in := &sdk.CreateListenerInput{
		LoadBalancerArn: aws.String(lbARN),
		Port:            aws.Int32(s.Port),
		Protocol:        s.Protocol,
		DefaultActions:  forwardTo(tgARN),
		Tags:            sdkTags(s.Tags),
	}
	if s.Protocol == types.ProtocolEnumTls {
		in.Certificates = []types.Certificate{{CertificateArn: aws.String(s.CertificateARN)}}
		if s.SSLPolicy != "" {
			in.SslPolicy = aws.String(s.SSLPolicy)
		}
	}
	return in
}

// buildModifyListenerInput sets a listener's protocol and default action (and TLS
// settings) to the spec's.
func buildModifyListenerInput(arn string, s nlb.ListenerSpec, tgARN string) *sdk.ModifyListenerInput {
	in := &sdk.ModifyListenerInput{
		ListenerArn:    aws.String(arn),
		Port:           aws.Int32(s.Port),
		Protocol:       s.Protocol,
		DefaultActions: forwardTo(tgARN),
	}
	if s.Protocol == types.ProtocolEnumTls {
		in.Certificates = []types.Certificate{{CertificateArn: aws.String(s.CertificateARN)}}
		if s.SSLPolicy != "" {
			in.SslPolicy = aws.String(s.SSLPolicy)
		}
	}
	return in
}

func forwardTo(tgARN string) []types.Action {
	return []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
}

// targetDescriptions translates targets for RegisterTargets and DeregisterTargets.
func targetDescriptions(ts []nlb.PlacedTarget) []types.TargetDescription {
	out := make([]types.TargetDescription, len(ts))
	for i, t := range ts {
		out[i] = types.TargetDescription{Id: aws.String(t.IP), Port: aws.Int32(t.Port)}
		if t.AvailabilityZone != "" {
			out[i].AvailabilityZone = aws.String(t.AvailabilityZone)
		}
	}
	return out
}

func sdkTags(tags map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}
