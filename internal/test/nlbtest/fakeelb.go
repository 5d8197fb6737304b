package nlbtest

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

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/cloud/elbv2"
)

// ELB is an in-memory ELBv2 for unit tests of ordering and partial failure. It keeps
// the rules of the real service that the order of Apply depends on: a target group
// serves one load balancer, cannot be deleted while a listener forwards to it, a
// listener's protocol must suit its target group's, one listener per port, creates are
// idempotent by name, and targets outside the VPC need AvailabilityZone "all". The real
// wire-level tests run against moto.
type ELB struct {
	seq       int
	LBs       []*types.LoadBalancer
	listeners []*types.Listener
	TGs       []*types.TargetGroup
	tags      map[string]map[string]string
	attrs     map[string]map[string]string
	// Registered are the targets of each target group, by ARN.
	Registered map[string][]types.TargetDescription
	// NewLBState is the state of a load balancer when it is created.
	NewLBState types.LoadBalancerStateEnum
	// Fail makes the next call of an operation fail (once).
	Fail map[string]error
	// Calls records every call as "Op subject".
	Calls []string
}

var _ elbv2.API = (*ELB)(nil)

// NewELB is an empty ELBv2 whose load balancers are active as soon as they are created.
func NewELB() *ELB {
	return &ELB{
		tags:       map[string]map[string]string{},
		attrs:      map[string]map[string]string{},
		Registered: map[string][]types.TargetDescription{},
		NewLBState: types.LoadBalancerStateEnumActive,
		Fail:       map[string]error{},
	}
}

var errFakeInUse = errors.New("ResourceInUse")

func (f *ELB) hook(op, subject string) error {
	f.Calls = append(f.Calls, op+" "+subject)
	if err, ok := f.Fail[op]; ok {
		delete(f.Fail, op)
		return err
	}
	return nil
}

// Ops returns the operations called, without subjects.
func (f *ELB) Ops() []string {
	out := make([]string, len(f.Calls))
	for i, c := range f.Calls {
		out[i], _, _ = strings.Cut(c, " ")
	}
	return out
}

// Writes returns the write calls.
func (f *ELB) Writes() []string {
	var out []string
	for _, c := range f.Calls {
		op, _, _ := strings.Cut(c, " ")
		switch op {
		case "LoadBalancers", "Tags", "Listeners", "TargetGroups", "TargetGroupAttributes", "Targets":
		default:
			out = append(out, c)
		}
	}
	return out
}

// LB is the load balancer of the ARN, or nil.
func (f *ELB) LB(arn string) *types.LoadBalancer {
	for _, lb := range f.LBs {
		if aws.ToString(lb.LoadBalancerArn) == arn {
			return lb
		}
	}
	return nil
}

// TG is the target group of the ARN, or nil.
func (f *ELB) TG(arn string) *types.TargetGroup {
	for _, tg := range f.TGs {
		if aws.ToString(tg.TargetGroupArn) == arn {
			return tg
		}
	}
	return nil
}

func (f *ELB) listener(arn string) *types.Listener {
	for _, l := range f.listeners {
		if aws.ToString(l.ListenerArn) == arn {
			return l
		}
	}
	return nil
}

func (f *ELB) next() int { f.seq++; return f.seq }

func notFound(what string) error { return fmt.Errorf("%s: %w", what, cloudmetrics.ErrNotFound) }

func (f *ELB) LoadBalancers(context.Context) ([]types.LoadBalancer, error) {
	if err := f.hook("LoadBalancers", ""); err != nil {
		return nil, err
	}
	out := make([]types.LoadBalancer, len(f.LBs))
	for i, lb := range f.LBs {
		out[i] = *lb
	}
	return out, nil
}

func (f *ELB) Tags(_ context.Context, arns []string) (map[string]map[string]string, error) {
	if err := f.hook("Tags", strings.Join(arns, ",")); err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, arn := range arns {
		t, ok := f.tags[arn]
		if !ok {
			return nil, notFound(arn)
		}
		out[arn] = maps.Clone(t)
	}
	return out, nil
}

func fromSDKTags(ts []types.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range ts {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

func (f *ELB) CreateLoadBalancer(_ context.Context, in *sdk.CreateLoadBalancerInput) (*types.LoadBalancer, error) {
	name := aws.ToString(in.Name)
	if err := f.hook("CreateLoadBalancer", name); err != nil {
		return nil, err
	}
	for _, lb := range f.LBs {
		if aws.ToString(lb.LoadBalancerName) == name {
			c := *lb
			return &c, nil
		}
	}
	if len(in.Subnets) == 0 {
		return nil, errors.New("ValidationError: at least one subnet")
	}
	n := f.next()
	lb := &types.LoadBalancer{
		LoadBalancerArn:       aws.String(fmt.Sprintf("arn:aws:elasticloadbalancing:eu-west-1:000000000000:loadbalancer/net/%s/%04x", name, n)),
		LoadBalancerName:      aws.String(name),
		DNSName:               aws.String(fmt.Sprintf("%s-%04x.elb.eu-west-1.amazonaws.com", name, n)),
		CanonicalHostedZoneId: aws.String("Z2IFOLAFXWLO4F"),
		Scheme:                in.Scheme,
		Type:                  in.Type,
		VpcId:                 aws.String("vpc-1"),
		State:                 &types.LoadBalancerState{Code: f.NewLBState},
	}
	for _, s := range in.Subnets {
		lb.AvailabilityZones = append(lb.AvailabilityZones, types.AvailabilityZone{SubnetId: aws.String(s)})
	}
	f.LBs = append(f.LBs, lb)
	f.tags[aws.ToString(lb.LoadBalancerArn)] = fromSDKTags(in.Tags)
	c := *lb
	return &c, nil
}

func (f *ELB) DeleteLoadBalancer(_ context.Context, arn string) error {
	if err := f.hook("DeleteLoadBalancer", arn); err != nil {
		return err
	}
	f.LBs = slices.DeleteFunc(f.LBs, func(lb *types.LoadBalancer) bool { return aws.ToString(lb.LoadBalancerArn) == arn })
	f.listeners = slices.DeleteFunc(f.listeners, func(l *types.Listener) bool { return aws.ToString(l.LoadBalancerArn) == arn })
	delete(f.tags, arn)
	return nil
}

func (f *ELB) Listeners(_ context.Context, lbARN string) ([]types.Listener, error) {
	if err := f.hook("Listeners", lbARN); err != nil {
		return nil, err
	}
	if f.LB(lbARN) == nil {
		return nil, notFound(lbARN)
	}
	var out []types.Listener
	for _, l := range f.listeners {
		if aws.ToString(l.LoadBalancerArn) == lbARN {
			out = append(out, *l)
		}
	}
	return out, nil
}

// checkForward checks a listener of protocol proto on lbARN may forward to the actions'
// target group.
func (f *ELB) checkForward(lbARN string, proto types.ProtocolEnum, actions []types.Action) error {
	if len(actions) != 1 || actions[0].Type != types.ActionTypeEnumForward {
		return errors.New("ValidationError: one forward action expected")
	}
	tg := f.TG(aws.ToString(actions[0].TargetGroupArn))
	if tg == nil {
		return notFound(aws.ToString(actions[0].TargetGroupArn))
	}
	want := types.ProtocolEnumTcp
	if proto == types.ProtocolEnumUdp {
		want = types.ProtocolEnumUdp
	}
	if tg.Protocol != want {
		return fmt.Errorf("ValidationError: a %s listener cannot forward to a %s target group", proto, tg.Protocol)
	}
	for _, other := range f.attached(aws.ToString(tg.TargetGroupArn)) {
		if other != lbARN {
			return fmt.Errorf("ValidationError: target group %s is attached to another load balancer", aws.ToString(tg.TargetGroupName))
		}
	}
	return nil
}

func (f *ELB) CreateListener(_ context.Context, in *sdk.CreateListenerInput) (*types.Listener, error) {
	lbARN := aws.ToString(in.LoadBalancerArn)
	if err := f.hook("CreateListener", fmt.Sprintf("%s:%d", in.Protocol, aws.ToInt32(in.Port))); err != nil {
		return nil, err
	}
	if f.LB(lbARN) == nil {
		return nil, notFound(lbARN)
	}
	for _, l := range f.listeners {
		if aws.ToString(l.LoadBalancerArn) == lbARN && aws.ToInt32(l.Port) == aws.ToInt32(in.Port) {
			return nil, errors.New("DuplicateListener")
		}
	}
	if err := f.checkForward(lbARN, in.Protocol, in.DefaultActions); err != nil {
		return nil, err
	}
	if in.Protocol == types.ProtocolEnumTls && len(in.Certificates) != 1 {
		return nil, errors.New("ValidationError: a TLS listener needs a certificate")
	}
	l := &types.Listener{
		ListenerArn:     aws.String(fmt.Sprintf("arn:aws:elasticloadbalancing:eu-west-1:000000000000:listener/net/%04x", f.next())),
		LoadBalancerArn: in.LoadBalancerArn,
		Port:            in.Port,
		Protocol:        in.Protocol,
		DefaultActions:  slices.Clone(in.DefaultActions),
		Certificates:    slices.Clone(in.Certificates),
		SslPolicy:       in.SslPolicy,
	}
	f.listeners = append(f.listeners, l)
	f.tags[aws.ToString(l.ListenerArn)] = fromSDKTags(in.Tags)
	c := *l
	return &c, nil
}

func (f *ELB) ModifyListener(_ context.Context, in *sdk.ModifyListenerInput) error {
	if err := f.hook("ModifyListener", fmt.Sprintf("%s:%d", in.Protocol, aws.ToInt32(in.Port))); err != nil {
		return err
	}
	l := f.listener(aws.ToString(in.ListenerArn))
	if l == nil {
		return notFound(aws.ToString(in.ListenerArn))
	}
	proto := l.Protocol
	if in.Protocol != "" {
		proto = in.Protocol
	}
	if in.DefaultActions != nil {
		if err := f.checkForward(aws.ToString(l.LoadBalancerArn), proto, in.DefaultActions); err != nil {
			return err
		}
		l.DefaultActions = slices.Clone(in.DefaultActions)
	}
	l.Protocol = proto
	if in.Port != nil {
		l.Port = in.Port
	}
	if proto == types.ProtocolEnumTls {
		if in.Certificates != nil {
			l.Certificates = slices.Clone(in.Certificates)
		}
		if in.SslPolicy != nil {
			l.SslPolicy = in.SslPolicy
		}
	} else {
		l.Certificates, l.SslPolicy = nil, nil
	}
	return nil
}

func (f *ELB) DeleteListener(_ context.Context, arn string) error {
	if err := f.hook("DeleteListener", arn); err != nil {
		return err
	}
	f.listeners = slices.DeleteFunc(f.listeners, func(l *types.Listener) bool { return aws.ToString(l.ListenerArn) == arn })
	return nil
}

// attached lists the load balancers a target group serves, through their listeners.
func (f *ELB) attached(tgARN string) []string {
	var out []string
	for _, l := range f.listeners {
		for _, a := range l.DefaultActions {
			if aws.ToString(a.TargetGroupArn) == tgARN && !slices.Contains(out, aws.ToString(l.LoadBalancerArn)) {
				out = append(out, aws.ToString(l.LoadBalancerArn))
			}
		}
	}
	return out
}

func (f *ELB) TargetGroups(context.Context) ([]types.TargetGroup, error) {
	if err := f.hook("TargetGroups", ""); err != nil {
		return nil, err
	}
	out := make([]types.TargetGroup, len(f.TGs))
	for i, tg := range f.TGs {
		out[i] = *tg
		out[i].LoadBalancerArns = f.attached(aws.ToString(tg.TargetGroupArn))
	}
	return out, nil
}

func (f *ELB) CreateTargetGroup(_ context.Context, in *sdk.CreateTargetGroupInput) (*types.TargetGroup, error) {
	name := aws.ToString(in.Name)
	if err := f.hook("CreateTargetGroup", name); err != nil {
		return nil, err
	}
	if len(name) > 32 {
		return nil, errors.New("ValidationError: name longer than 32 characters")
	}
	for _, tg := range f.TGs {
		if aws.ToString(tg.TargetGroupName) == name {
			if tg.Protocol != in.Protocol || aws.ToString(tg.VpcId) != aws.ToString(in.VpcId) {
				return nil, errors.New("DuplicateTargetGroupName")
			}
			c := *tg
			return &c, nil
		}
	}
	tg := &types.TargetGroup{
		TargetGroupArn:             aws.String(fmt.Sprintf("arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/%s/%04x", name, f.next())),
		TargetGroupName:            in.Name,
		Protocol:                   in.Protocol,
		Port:                       in.Port,
		VpcId:                      in.VpcId,
		TargetType:                 in.TargetType,
		IpAddressType:              in.IpAddressType,
		HealthCheckEnabled:         aws.Bool(true),
		HealthCheckProtocol:        types.ProtocolEnumTcp,
		HealthCheckPort:            aws.String("traffic-port"), // AWS's default, the target's own port
		HealthCheckIntervalSeconds: aws.Int32(30),
		HealthCheckTimeoutSeconds:  aws.Int32(10),
		HealthyThresholdCount:      aws.Int32(5),
		UnhealthyThresholdCount:    aws.Int32(2),
	}
	f.TGs = append(f.TGs, tg)
	f.setHealthCheck(tg, in.HealthCheckProtocol, in.HealthCheckPort, in.HealthCheckPath, in.Matcher,
		in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds, in.HealthyThresholdCount, in.UnhealthyThresholdCount)
	f.tags[aws.ToString(tg.TargetGroupArn)] = fromSDKTags(in.Tags)
	c := *tg
	return &c, nil
}

func (f *ELB) setHealthCheck(tg *types.TargetGroup, proto types.ProtocolEnum, port, path *string, m *types.Matcher, interval, timeout, healthy, unhealthy *int32) {
	if proto != "" {
		tg.HealthCheckProtocol = proto
	}
	set := func(dst **int32, v *int32) {
		if v != nil {
			*dst = aws.Int32(*v)
		}
	}
	if port != nil {
		tg.HealthCheckPort = aws.String(*port)
	}
	if path != nil {
		tg.HealthCheckPath = aws.String(*path)
	}
	if m != nil {
		tg.Matcher = &types.Matcher{HttpCode: m.HttpCode}
	}
	set(&tg.HealthCheckIntervalSeconds, interval)
	set(&tg.HealthCheckTimeoutSeconds, timeout)
	set(&tg.HealthyThresholdCount, healthy)
	set(&tg.UnhealthyThresholdCount, unhealthy)
}

func (f *ELB) ModifyTargetGroup(_ context.Context, in *sdk.ModifyTargetGroupInput) error {
	if err := f.hook("ModifyTargetGroup", aws.ToString(in.TargetGroupArn)); err != nil {
		return err
	}
	tg := f.TG(aws.ToString(in.TargetGroupArn))
	if tg == nil {
		return notFound(aws.ToString(in.TargetGroupArn))
	}
	f.setHealthCheck(tg, in.HealthCheckProtocol, in.HealthCheckPort, in.HealthCheckPath, in.Matcher,
		in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds, in.HealthyThresholdCount, in.UnhealthyThresholdCount)
	return nil
}

func (f *ELB) TargetGroupAttributes(_ context.Context, arn string) (map[string]string, error) {
	if err := f.hook("TargetGroupAttributes", arn); err != nil {
		return nil, err
	}
	if f.TG(arn) == nil {
		return nil, notFound(arn)
	}
	out := map[string]string{ // AWS's defaults
		"deregistration_delay.timeout_seconds": "300",
		"proxy_protocol_v2.enabled":            "false",
		"preserve_client_ip.enabled":           "false",
		"stickiness.enabled":                   "false",
	}
	maps.Copy(out, f.attrs[arn])
	return out, nil
}

func (f *ELB) ModifyTargetGroupAttributes(_ context.Context, arn string, attrs map[string]string) error {
	if err := f.hook("ModifyTargetGroupAttributes", arn); err != nil {
		return err
	}
	if f.TG(arn) == nil {
		return notFound(arn)
	}
	if f.attrs[arn] == nil {
		f.attrs[arn] = map[string]string{}
	}
	maps.Copy(f.attrs[arn], attrs)
	return nil
}

func (f *ELB) DeleteTargetGroup(_ context.Context, arn string) error {
	if err := f.hook("DeleteTargetGroup", arn); err != nil {
		return err
	}
	if len(f.attached(arn)) > 0 {
		return fmt.Errorf("%w: target group %s is used by a listener", errFakeInUse, arn)
	}
	f.TGs = slices.DeleteFunc(f.TGs, func(tg *types.TargetGroup) bool { return aws.ToString(tg.TargetGroupArn) == arn })
	delete(f.tags, arn)
	delete(f.Registered, arn)
	return nil
}

func (f *ELB) Targets(_ context.Context, arn string) ([]types.TargetHealthDescription, error) {
	if err := f.hook("Targets", arn); err != nil {
		return nil, err
	}
	if f.TG(arn) == nil {
		return nil, notFound(arn)
	}
	var out []types.TargetHealthDescription
	for _, t := range f.Registered[arn] {
		out = append(out, types.TargetHealthDescription{
			Target:       &types.TargetDescription{Id: t.Id, Port: t.Port, AvailabilityZone: t.AvailabilityZone},
			TargetHealth: &types.TargetHealth{State: types.TargetHealthStateEnumHealthy},
		})
	}
	return out, nil
}

func sameTarget(a, b types.TargetDescription) bool {
	return aws.ToString(a.Id) == aws.ToString(b.Id) && aws.ToInt32(a.Port) == aws.ToInt32(b.Port)
}

func (f *ELB) RegisterTargets(_ context.Context, arn string, ts []types.TargetDescription) error {
	if err := f.hook("RegisterTargets", fmt.Sprintf("%s %d", arn, len(ts))); err != nil {
		return err
	}
	if f.TG(arn) == nil {
		return notFound(arn)
	}
	for _, t := range ts {
		if t.Id == nil || t.Port == nil || aws.ToString(t.AvailabilityZone) != "all" {
			return fmt.Errorf("ValidationError: target %s outside the VPC needs a port and AvailabilityZone all", aws.ToString(t.Id))
		}
		if !slices.ContainsFunc(f.Registered[arn], func(h types.TargetDescription) bool { return sameTarget(h, t) }) {
			f.Registered[arn] = append(f.Registered[arn], t)
		}
	}
	return nil
}

func (f *ELB) DeregisterTargets(_ context.Context, arn string, ts []types.TargetDescription) error {
	if err := f.hook("DeregisterTargets", fmt.Sprintf("%s %d", arn, len(ts))); err != nil {
		return err
	}
	if f.TG(arn) == nil {
		return notFound(arn)
	}
	f.Registered[arn] = slices.DeleteFunc(f.Registered[arn], func(h types.TargetDescription) bool {
		return slices.ContainsFunc(ts, func(t types.TargetDescription) bool { return sameTarget(h, t) })
	})
	return nil
}
