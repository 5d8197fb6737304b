package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/elbv2"
	"github.com/drover-dev/drover/internal/nlb"
)

// Observe reads what AWS has for the owner. It lists the account's load balancers and
// target groups, reads the tags of those whose names start with ResourceNamePrefix, and
// keeps only the ones the owner's tags say are its own; everything else is invisible.
// Any failed read fails Observe: it never returns a partial picture.
func Observe(ctx context.Context, api elbv2.API, owner nlb.Owner) (*nlb.Observed, error) {
	if err := owner.Validate(); err != nil {
		return nil, err
	}
	prefix := nlb.ResourceNamePrefix(owner)
	obs := &nlb.Observed{}

	lbs, err := api.LoadBalancers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list load balancers: %w", err)
	}
	exists := make(map[string]bool, len(lbs))
	for _, lb := range lbs {
		exists[aws.ToString(lb.LoadBalancerArn)] = true
	}
	lbs = slices.DeleteFunc(lbs, func(lb types.LoadBalancer) bool {
		return !strings.HasPrefix(aws.ToString(lb.LoadBalancerName), prefix) || lb.LoadBalancerArn == nil
	})
	tgs, err := api.TargetGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list target groups: %w", err)
	}
	tgs = slices.DeleteFunc(tgs, func(tg types.TargetGroup) bool {
		return !strings.HasPrefix(aws.ToString(tg.TargetGroupName), prefix) || tg.TargetGroupArn == nil
	})
	// The tags of both in one DescribeTags (20 ARNs a call): a Prod's NLB and its target
	// groups fit in one.
	tagsByARN, err := tagsOf(ctx, api, len(lbs)+len(tgs), func(i int) string {
		if i < len(lbs) {
			return aws.ToString(lbs[i].LoadBalancerArn)
		}
		return aws.ToString(tgs[i-len(lbs)].TargetGroupArn)
	})
	if err != nil {
		return nil, fmt.Errorf("read tags: %w", err)
	}

	for _, lb := range lbs {
		tags := tagsByARN[aws.ToString(lb.LoadBalancerArn)]
		if !owner.Owns(tags) {
			continue
		}
		ls, err := api.Listeners(ctx, aws.ToString(lb.LoadBalancerArn))
		if err != nil {
			return nil, fmt.Errorf("list listeners of %s: %w", aws.ToString(lb.LoadBalancerName), err)
		}
		obs.LoadBalancers = append(obs.LoadBalancers, observedLoadBalancer(lb, tags, ls))
	}
	for _, tg := range tgs {
		arn := aws.ToString(tg.TargetGroupArn)
		tags := tagsByARN[arn]
		if !owner.Owns(tags) {
			continue
		}
		attrs, err := api.TargetGroupAttributes(ctx, arn)
		if err != nil {
			return nil, fmt.Errorf("read attributes of target group %s: %w", aws.ToString(tg.TargetGroupName), err)
		}
		ths, err := api.Targets(ctx, arn)
		if err != nil {
			return nil, fmt.Errorf("read targets of target group %s: %w", aws.ToString(tg.TargetGroupName), err)
		}
		// A load balancer that no longer exists is no attachment: its ARN can linger in
		// the target group's LoadBalancerArns after it is deleted (moto keeps it for
		// good), and the teardown would otherwise leave the target group as held by a
		// load balancer drover does not own. A deletion whose answer was lost shows it.
		tg.LoadBalancerArns = slices.DeleteFunc(slices.Clone(tg.LoadBalancerArns), func(arn string) bool { return !exists[arn] })
		obs.TargetGroups = append(obs.TargetGroups, observedTargetGroup(tg, tags, attrs, ths))
	}
	slices.SortFunc(obs.LoadBalancers, func(a, b nlb.ObservedLoadBalancer) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(obs.TargetGroups, func(a, b nlb.ObservedTargetGroup) int { return strings.Compare(a.Name, b.Name) })
	return obs, nil
}

func tagsOf(ctx context.Context, api elbv2.API, n int, arn func(int) string) (map[string]map[string]string, error) {
	if n == 0 {
		return nil, nil
	}
	arns := make([]string, n)
	for i := range arns {
		arns[i] = arn(i)
	}
	return api.Tags(ctx, arns)
}

// observedLoadBalancer translates the SDK's view of a load balancer.
func observedLoadBalancer(lb types.LoadBalancer, tags map[string]string, listeners []types.Listener) nlb.ObservedLoadBalancer {
	o := nlb.ObservedLoadBalancer{
		ARN:                   aws.ToString(lb.LoadBalancerArn),
		Name:                  aws.ToString(lb.LoadBalancerName),
		DNSName:               aws.ToString(lb.DNSName),
		CanonicalHostedZoneID: aws.ToString(lb.CanonicalHostedZoneId),
		Scheme:                lb.Scheme,
		Type:                  lb.Type,
		VPCID:                 aws.ToString(lb.VpcId),
		Tags:                  tags,
	}
	if lb.State != nil {
		o.State = lb.State.Code
	}
	for _, az := range lb.AvailabilityZones {
		if s := aws.ToString(az.SubnetId); s != "" {
			o.Subnets = append(o.Subnets, s)
		}
	}
	slices.Sort(o.Subnets)
	for _, l := range listeners {
		o.Listeners = append(o.Listeners, observedListener(l))
	}
	slices.SortFunc(o.Listeners, func(a, b nlb.ObservedListener) int { return int(a.Port) - int(b.Port) })
	return o
}

// observedListener translates the SDK's view of a listener.
func observedListener(l types.Listener) nlb.ObservedListener {
	o := nlb.ObservedListener{
		ARN:             aws.ToString(l.ListenerArn),
		LoadBalancerARN: aws.ToString(l.LoadBalancerArn),
		Port:            aws.ToInt32(l.Port),
		Protocol:        l.Protocol,
		SSLPolicy:       aws.ToString(l.SslPolicy),
	}
	if len(l.DefaultActions) == 1 && l.DefaultActions[0].Type == types.ActionTypeEnumForward {
		a := l.DefaultActions[0]
		switch {
		case a.TargetGroupArn != nil:
			o.TargetGroupARN = aws.ToString(a.TargetGroupArn)
		case a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) == 1:
			o.TargetGroupARN = aws.ToString(a.ForwardConfig.TargetGroups[0].TargetGroupArn)
		}
	}
	for _, c := range l.Certificates {
		if o.CertificateARN == "" || aws.ToBool(c.IsDefault) {
			o.CertificateARN = aws.ToString(c.CertificateArn)
		}
	}
	return o
}

// observedTargetGroup translates the SDK's view of a target group and its targets.
func observedTargetGroup(tg types.TargetGroup, tags, attrs map[string]string, ths []types.TargetHealthDescription) nlb.ObservedTargetGroup {
	o := nlb.ObservedTargetGroup{
		ARN:              aws.ToString(tg.TargetGroupArn),
		Name:             aws.ToString(tg.TargetGroupName),
		Protocol:         tg.Protocol,
		Port:             aws.ToInt32(tg.Port),
		TargetType:       tg.TargetType,
		IPAddressType:    tg.IpAddressType,
		VPCID:            aws.ToString(tg.VpcId),
		LoadBalancerARNs: slices.Sorted(slices.Values(tg.LoadBalancerArns)),
		HealthCheck: nlb.HealthCheck{
			Protocol:           tg.HealthCheckProtocol,
			Port:               aws.ToString(tg.HealthCheckPort),
			Path:               aws.ToString(tg.HealthCheckPath),
			IntervalSeconds:    aws.ToInt32(tg.HealthCheckIntervalSeconds),
			TimeoutSeconds:     aws.ToInt32(tg.HealthCheckTimeoutSeconds),
			HealthyThreshold:   aws.ToInt32(tg.HealthyThresholdCount),
			UnhealthyThreshold: aws.ToInt32(tg.UnhealthyThresholdCount),
		},
		Attributes: attrs,
		Tags:       tags,
	}
	if tg.Matcher != nil {
		o.HealthCheck.Matcher = aws.ToString(tg.Matcher.HttpCode)
	}
	for _, th := range ths {
		if th.Target == nil || th.Target.Id == nil {
			continue
		}
		var state types.TargetHealthStateEnum
		if th.TargetHealth != nil {
			state = th.TargetHealth.State
		}
		if state == types.TargetHealthStateEnumDraining { // deregistered, connections draining
			continue
		}
		port := aws.ToInt32(th.Target.Port)
		if port == 0 {
			port = o.Port
		}
		o.Targets = append(o.Targets, nlb.ObservedTarget{
			Target:           nlb.Target{IP: aws.ToString(th.Target.Id), Port: port},
			AvailabilityZone: aws.ToString(th.Target.AvailabilityZone),
			State:            state,
		})
	}
	slices.SortFunc(o.Targets, func(a, b nlb.ObservedTarget) int { return nlb.CompareTargets(a.Target, b.Target) })
	return o
}
