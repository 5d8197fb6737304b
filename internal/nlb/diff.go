package nlb

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// DefaultMaxTargetRemovalPercent is the guard's limit when none is given (the Prod's
// spec.traffic.mirror.maxTargetRemovalPercent defaults to it too).
const DefaultMaxTargetRemovalPercent int32 = 50

// Guard keeps one sync from removing too much.
//
// A plan is Blocked when, without AllowMassRemoval,
//   - for a target group the plan keeps, it would deregister more than
//     MaxTargetRemovalPercent of the targets registered now (so a pool whose member list
//     came back empty, while AWS has targets, is a 100% removal and blocks), or
//   - the NLB as a whole would end with fewer registered targets than it has now by more
//     than MaxTargetRemovalPercent (counting the target groups attached to the load
//     balancer; this catches listeners and pools vanishing from Octavia, while a pool
//     replaced by another with the same members is no loss).
//
// A blocked plan is held whole: Apply refuses it and changes nothing in AWS, additions
// included. Its size is evidence the desired model may be wrong (Stop, don't guess), and
// applying only its additions would let the guard be walked around: with the additions
// registered, the same removals would be a smaller share on the next sync. The plan's
// summary names each target group, the counts and the limit; the operator either fixes
// Octavia or says so with AllowMassRemoval, which lets that plan through (its reasons are
// then kept as Notes, for the record).
type Guard struct {
	// MaxTargetRemovalPercent is the largest share, 1–100, one sync may remove. 0 means
	// DefaultMaxTargetRemovalPercent; 100 never blocks.
	MaxTargetRemovalPercent int32
	// AllowMassRemoval is the operator's say-so for a removal above the limit.
	AllowMassRemoval bool
}

func (g Guard) limit() int32 {
	switch {
	case g.MaxTargetRemovalPercent <= 0:
		return DefaultMaxTargetRemovalPercent
	case g.MaxTargetRemovalPercent > 100:
		return 100
	}
	return g.MaxTargetRemovalPercent
}

// Plan is the change that takes AWS from Observed to the Model, in the order Apply
// carries it out: create the load balancer, create and modify target groups, register
// targets, create and modify listeners, deregister targets, delete listeners, delete load
// balancers, delete target groups.
type Plan struct {
	// LoadBalancer is the existing load balancer the model is matched to; zero when the
	// plan creates it (or tears everything down).
	LoadBalancer LoadBalancerRef
	// CreateLoadBalancer is set when no compatible load balancer exists.
	CreateLoadBalancer *LoadBalancerSpec
	// TargetGroupARNs are the existing target groups matched to the model, by Octavia
	// pool id. Target groups the plan creates are resolved by Apply.
	TargetGroupARNs map[string]string

	CreateTargetGroups []TargetGroupSpec
	ModifyTargetGroups []TargetGroupModification
	RegisterTargets    []TargetsChange
	CreateListeners    []ListenerSpec
	ModifyListeners    []ListenerModification
	DeregisterTargets  []TargetsChange
	DeleteListeners    []ListenerRef
	// DeleteLoadBalancers are owned load balancers the model does not match (replaced).
	DeleteLoadBalancers []LoadBalancerRef
	DeleteTargetGroups  []TargetGroupRef

	// Blocked: the guard holds the plan; BlockedReasons say why.
	Blocked        bool
	BlockedReasons []string
	// GuardOverridden: the guard would have blocked the plan and Guard.AllowMassRemoval
	// let it through (the reasons are in Notes). A one-shot say-so is used up when this
	// plan is applied.
	GuardOverridden bool
	// Notes are things the plan does not do, or did only with the operator's say-so.
	Notes []string
}

// LoadBalancerRef identifies a load balancer.
type LoadBalancerRef struct {
	ARN, Name, DNSName, CanonicalHostedZoneID string
	State                                     types.LoadBalancerStateEnum
}

// TargetGroupRef identifies a target group. ARN is empty for one the plan creates.
type TargetGroupRef struct {
	ARN, Name string
	// PoolID is the Octavia pool (TagOctaviaPool).
	PoolID string
}

func (r TargetGroupRef) String() string {
	if r.PoolID == "" {
		return r.Name
	}
	return fmt.Sprintf("%s (Octavia pool %s)", r.Name, r.PoolID)
}

// ListenerRef identifies a listener.
type ListenerRef struct {
	ARN, LoadBalancerARN string
	Port                 int32
	Protocol             types.ProtocolEnum
}

// TargetGroupModification changes a target group in place.
type TargetGroupModification struct {
	TargetGroup TargetGroupRef
	// HealthCheck is the whole desired health check; nil when it matches.
	HealthCheck *HealthCheck
	// Attributes are the managed attributes that differ, with their desired values.
	Attributes map[string]string
	// Changes describe the differences, for events.
	Changes []string
}

// TargetsChange is targets to register with or deregister from one target group.
type TargetsChange struct {
	TargetGroup TargetGroupRef
	Targets     []PlacedTarget
}

// PlacedTarget is a target with the availability zone it is, or is to be, registered in.
type PlacedTarget struct {
	Target
	AvailabilityZone string
}

// ListenerModification changes a listener in place to Listener.
type ListenerModification struct {
	ListenerRef
	Listener ListenerSpec
	Changes  []string
}

// Diff compares the model with what AWS has and returns the plan; it is pure.
//
// Resources are matched by ownership tag into three sets, as aws-load-balancer-controller
// does. The load balancer: an owned one of the model's scheme and VPC is matched (the one
// with the model's name preferred); none → create; other owned ones are replaced and are
// deleted, with their listeners and target groups, once the matched one is active (so the
// old NLB keeps serving while the new one provisions). Target groups, by TagOctaviaPool:
// an owned target group of the pool with the same protocol, target type ip, IPv4 and VPC,
// attached to no other load balancer, is matched and modified in place (health check,
// managed attributes) and its targets are registered and deregistered by IP and port;
// none → create (a changed immutable property means create the new one, switch the
// listener, delete the old one); owned target groups no pool matches are deleted.
// Listeners of the matched load balancer, by port: created, modified (protocol, target
// group, certificate) or deleted. Drift made by hand shows up the same way. Then the Guard
// decides whether the plan may run.
func Diff(desired Model, observed *Observed, guard Guard) Plan {
	if observed == nil {
		observed = &Observed{}
	}
	p := Plan{TargetGroupARNs: map[string]string{}}
	lbs := p.matchLoadBalancer(desired, observed)
	matched := p.diffTargetGroups(desired, observed, lbs)
	p.diffListeners(desired, lbs)
	p.applyGuard(desired, observed, lbs.lb, matched, guard)
	return p
}

// loadBalancers is how the owned load balancers match the model.
type loadBalancers struct {
	// lb is the one the model is matched to; nil when the plan creates it.
	lb *ObservedLoadBalancer
	// owned are the ARNs of every owned load balancer.
	owned map[string]bool
	// retiring are the others, replaced, with their ARNs.
	retiring    []ObservedLoadBalancer
	retiringARN map[string]bool
	// canRetire: the matched one is active, so the retiring ones may go.
	canRetire bool
}

// matchLoadBalancer matches an owned load balancer of the model's scheme and VPC (the one
// with the model's name preferred), or plans to create one.
func (p *Plan) matchLoadBalancer(desired Model, observed *Observed) loadBalancers {
	m := loadBalancers{owned: map[string]bool{}, retiringARN: map[string]bool{}}
	for i := range observed.LoadBalancers {
		c := &observed.LoadBalancers[i]
		if !lbCompatible(desired.LoadBalancer, *c) {
			continue
		}
		if m.lb == nil || preferLB(*c, *m.lb, desired.LoadBalancer.Name) {
			m.lb = c
		}
	}
	for _, c := range observed.LoadBalancers {
		m.owned[c.ARN] = true
		if m.lb == nil || c.ARN != m.lb.ARN {
			m.retiring = append(m.retiring, c)
		}
	}
	m.canRetire = m.lb != nil && m.lb.State == types.LoadBalancerStateEnumActive
	for _, r := range m.retiring {
		m.retiringARN[r.ARN] = true
	}
	if lb := m.lb; lb != nil {
		p.LoadBalancer = lb.Ref()
		if len(lb.Subnets) > 0 && !slices.Equal(lb.Subnets, desired.LoadBalancer.Subnets) {
			p.Notes = append(p.Notes, fmt.Sprintf("load balancer %s is in subnets %s, not %s; drover does not change the subnets of a load balancer",
				lb.Name, strings.Join(lb.Subnets, ","), strings.Join(desired.LoadBalancer.Subnets, ",")))
		}
		if lb.State == types.LoadBalancerStateEnumFailed {
			p.Notes = append(p.Notes, fmt.Sprintf("load balancer %s is in state failed", lb.Name))
		}
	} else {
		spec := desired.LoadBalancer
		p.CreateLoadBalancer = &spec
	}
	if len(m.retiring) > 0 && !m.canRetire {
		names := make([]string, len(m.retiring))
		for i, r := range m.retiring {
			names[i] = r.Name
		}
		p.Notes = append(p.Notes, fmt.Sprintf("load balancer %s is kept, with its listeners and target groups, until its replacement %s is active",
			strings.Join(names, ", "), desired.LoadBalancer.Name))
	}
	return m
}

// diffTargetGroups matches each of the model's target groups to an owned one of its pool
// (modifying it in place and registering and deregistering its targets), or plans to
// create it; owned target groups no pool matches are deleted. It returns the matched
// ones by pool.
func (p *Plan) diffTargetGroups(desired Model, observed *Observed, lbs loadBalancers) map[string]*ObservedTargetGroup {
	used := map[string]bool{}
	matchedTG := map[string]*ObservedTargetGroup{}
	for _, key := range slices.Sorted(maps.Keys(desired.TargetGroups)) {
		spec := desired.TargetGroups[key]
		var tg *ObservedTargetGroup
		for i := range observed.TargetGroups {
			c := &observed.TargetGroups[i]
			if used[c.ARN] || c.PoolID() != key || !tgCompatible(spec, *c, lbs.lb) {
				continue
			}
			if tg == nil || (c.Name == spec.Name && tg.Name != spec.Name) {
				tg = c
			}
		}
		if tg == nil {
			p.CreateTargetGroups = append(p.CreateTargetGroups, spec)
			if len(spec.Targets) > 0 {
				p.RegisterTargets = append(p.RegisterTargets, TargetsChange{
					TargetGroup: TargetGroupRef{Name: spec.Name, PoolID: key},
					Targets:     placeAll(spec.Targets),
				})
			}
			continue
		}
		used[tg.ARN] = true
		matchedTG[key] = tg
		p.TargetGroupARNs[key] = tg.ARN
		p.diffTargetGroup(spec, tg)
	}
	for _, tg := range observed.TargetGroups {
		if !used[tg.ARN] {
			p.retireTargetGroup(tg, lbs)
		}
	}
	return matchedTG
}

// diffTargetGroup modifies a matched target group in place and registers and
// deregisters its targets.
func (p *Plan) diffTargetGroup(spec TargetGroupSpec, tg *ObservedTargetGroup) {
	hcChanges := healthCheckChanges(spec.HealthCheck, tg.HealthCheck)
	attrs, attrChanges := AttributeChanges(spec.Attributes, tg.Attributes)
	if len(hcChanges) > 0 || len(attrs) > 0 {
		mod := TargetGroupModification{TargetGroup: tg.Ref(), Changes: append(hcChanges, attrChanges...)}
		if len(hcChanges) > 0 {
			hc := spec.HealthCheck
			mod.HealthCheck = &hc
		}
		if len(attrs) > 0 {
			mod.Attributes = attrs
		}
		p.ModifyTargetGroups = append(p.ModifyTargetGroups, mod)
	}
	register, deregister := targetChanges(spec.Targets, tg.Targets)
	if len(register) > 0 {
		p.RegisterTargets = append(p.RegisterTargets, TargetsChange{TargetGroup: tg.Ref(), Targets: register})
	}
	if len(deregister) > 0 {
		p.DeregisterTargets = append(p.DeregisterTargets, TargetsChange{TargetGroup: tg.Ref(), Targets: deregister})
	}
}

// retireTargetGroup deletes an owned target group no pool matches, unless a load balancer
// drover does not own uses it, or a retiring one that must wait for its replacement.
func (p *Plan) retireTargetGroup(tg ObservedTargetGroup, lbs loadBalancers) {
	var foreign []string
	waiting := false
	for _, arn := range tg.LoadBalancerARNs {
		switch {
		case !lbs.owned[arn]:
			foreign = append(foreign, arn)
		case lbs.retiringARN[arn] && !lbs.canRetire:
			waiting = true
		}
	}
	if len(foreign) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("target group %s is not deleted: it is attached to load balancer %s, which drover does not own",
			tg.Ref(), strings.Join(foreign, ", ")))
		return
	}
	if waiting {
		return // the note on the retiring load balancer covers it
	}
	p.DeleteTargetGroups = append(p.DeleteTargetGroups, tg.Ref())
}

// diffListeners creates, modifies and deletes the listeners of the matched load balancer
// by port (all of them are created on a new one), and deletes the retiring load
// balancers, listeners first, once they may go.
func (p *Plan) diffListeners(desired Model, lbs loadBalancers) {
	ports := slices.Sorted(maps.Keys(desired.Listeners))
	if lb := lbs.lb; lb == nil {
		for _, port := range ports {
			p.CreateListeners = append(p.CreateListeners, desired.Listeners[port])
		}
	} else {
		have := map[int32]ObservedListener{}
		for _, l := range lb.Listeners {
			have[l.Port] = l
		}
		for _, port := range ports {
			spec := desired.Listeners[port]
			l, ok := have[port]
			if !ok {
				p.CreateListeners = append(p.CreateListeners, spec)
				continue
			}
			if changes := listenerChanges(spec, l, p.TargetGroupARNs[spec.TargetGroup], desired.TargetGroups[spec.TargetGroup].Name); len(changes) > 0 {
				p.ModifyListeners = append(p.ModifyListeners, ListenerModification{ListenerRef: listenerRef(l), Listener: spec, Changes: changes})
			}
		}
		for _, l := range lb.Listeners {
			if _, ok := desired.Listeners[l.Port]; !ok {
				p.DeleteListeners = append(p.DeleteListeners, listenerRef(l))
			}
		}
	}
	if lbs.canRetire {
		for _, r := range lbs.retiring {
			for _, l := range r.Listeners {
				p.DeleteListeners = append(p.DeleteListeners, listenerRef(l))
			}
			p.DeleteLoadBalancers = append(p.DeleteLoadBalancers, r.Ref())
		}
	}
}

// applyGuard blocks the plan when it removes more targets than the guard allows (see
// Guard), or, with the operator's say-so, lets it through and keeps the reasons as Notes.
func (p *Plan) applyGuard(desired Model, observed *Observed, lb *ObservedLoadBalancer, matchedTG map[string]*ObservedTargetGroup, guard Guard) {
	var reasons []string
	limit := guard.limit()
	for _, d := range p.DeregisterTargets {
		tg := matchedTG[d.TargetGroup.PoolID]
		n, have := len(d.Targets), len(tg.Targets)
		if int64(n)*100 > int64(limit)*int64(have) {
			reasons = append(reasons, fmt.Sprintf("target group %s would deregister %d of its %d targets (%d%%), more than the %d%% allowed (maxTargetRemovalPercent)",
				d.TargetGroup, n, have, percent(n, have), limit))
		}
	}
	before, after := 0, 0
	for _, tg := range observed.TargetGroups {
		if lb == nil || slices.Contains(tg.LoadBalancerARNs, lb.ARN) {
			before += len(tg.Targets)
		}
	}
	for _, spec := range desired.TargetGroups {
		after += len(spec.Targets)
	}
	if before > 0 && int64(before-after)*100 > int64(limit)*int64(before) {
		reasons = append(reasons, fmt.Sprintf("the NLB would go from %d registered targets to %d (%d%% fewer), more than the %d%% allowed (maxTargetRemovalPercent)",
			before, after, percent(before-after, before), limit))
	}
	if len(reasons) == 0 {
		return
	}
	if guard.AllowMassRemoval {
		p.GuardOverridden = true
		for _, r := range reasons {
			p.Notes = append(p.Notes, "allowed by the operator: "+r)
		}
	} else {
		p.Blocked, p.BlockedReasons = true, reasons
	}
}

func lbCompatible(want LoadBalancerSpec, have ObservedLoadBalancer) bool {
	return have.Type == types.LoadBalancerTypeEnumNetwork && have.Scheme == want.Scheme &&
		(have.VPCID == "" || have.VPCID == want.VPCID)
}

// preferLB tells whether candidate a is a better match than b: the model's name first,
// then an active one.
func preferLB(a, b ObservedLoadBalancer, name string) bool {
	if (a.Name == name) != (b.Name == name) {
		return a.Name == name
	}
	return a.State == types.LoadBalancerStateEnumActive && b.State != types.LoadBalancerStateEnumActive
}

func tgCompatible(want TargetGroupSpec, have ObservedTargetGroup, lb *ObservedLoadBalancer) bool {
	if have.Protocol != want.Protocol || have.TargetType != types.TargetTypeEnumIp || have.VPCID != want.VPCID ||
		(have.IPAddressType != "" && have.IPAddressType != types.TargetGroupIpAddressTypeEnumIpv4) {
		return false
	}
	for _, arn := range have.LoadBalancerARNs {
		if lb == nil || arn != lb.ARN {
			return false // a target group serves one load balancer only
		}
	}
	return true
}

func healthCheckChanges(want, have HealthCheck) []string {
	var c []string
	diff := func(what string, w, h any) {
		if w != h {
			c = append(c, fmt.Sprintf("health check %s %v → %v", what, h, w))
		}
	}
	havePort := have.Port
	if havePort == "" {
		havePort = HealthCheckPortTraffic
	}
	diff("protocol", want.Protocol, have.Protocol)
	diff("port", want.Port, havePort)
	if want.IsHTTP() {
		diff("path", want.Path, have.Path)
		diff("matcher", want.Matcher, have.Matcher)
	}
	diff("interval", want.IntervalSeconds, have.IntervalSeconds)
	diff("timeout", want.TimeoutSeconds, have.TimeoutSeconds)
	diff("healthy threshold", want.HealthyThreshold, have.HealthyThreshold)
	diff("unhealthy threshold", want.UnhealthyThreshold, have.UnhealthyThreshold)
	return c
}

// AttributeChanges returns the managed attributes whose values differ, and the
// differences described (an attribute AWS did not list counts as its default; with have
// nil, the attributes a new target group must be given).
func AttributeChanges(want, have map[string]string) (map[string]string, []string) {
	out := map[string]string{}
	var c []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		h, ok := have[k]
		if !ok {
			h = attributeDefaults[k]
		}
		if h != want[k] {
			out[k] = want[k]
			c = append(c, fmt.Sprintf("%s %s → %s", k, orNone(h), want[k]))
		}
	}
	return out, c
}

// targetChanges returns the targets to register (with AvailabilityZone all) and to
// deregister (in the zone they are registered in), compared by IP and port.
func targetChanges(want []Target, have []ObservedTarget) (register, deregister []PlacedTarget) {
	wanted := map[Target]bool{}
	for _, t := range want {
		wanted[t] = true
	}
	present := map[Target]bool{}
	for _, t := range have {
		present[t.Target] = true
		if !wanted[t.Target] {
			deregister = append(deregister, PlacedTarget{Target: t.Target, AvailabilityZone: t.AvailabilityZone})
		}
	}
	for _, t := range want {
		if !present[t] {
			register = append(register, PlacedTarget{Target: t, AvailabilityZone: AvailabilityZoneAll})
		}
	}
	return register, deregister
}

func placeAll(ts []Target) []PlacedTarget {
	out := make([]PlacedTarget, len(ts))
	for i, t := range ts {
		out[i] = PlacedTarget{Target: t, AvailabilityZone: AvailabilityZoneAll}
	}
	return out
}

func listenerChanges(want ListenerSpec, have ObservedListener, tgARN, tgName string) []string {
	var c []string
	if want.Protocol != have.Protocol {
		c = append(c, fmt.Sprintf("protocol %s → %s", orNone(string(have.Protocol)), want.Protocol))
	}
	if tgARN == "" || have.TargetGroupARN != tgARN {
		c = append(c, fmt.Sprintf("forward to target group %s", tgName))
	}
	if want.Protocol == types.ProtocolEnumTls {
		if want.CertificateARN != have.CertificateARN {
			c = append(c, fmt.Sprintf("certificate %s → %s", orNone(have.CertificateARN), want.CertificateARN))
		}
		if want.SSLPolicy != "" && want.SSLPolicy != have.SSLPolicy {
			c = append(c, fmt.Sprintf("SSL policy %s → %s", orNone(have.SSLPolicy), want.SSLPolicy))
		}
	}
	return c
}

func listenerRef(l ObservedListener) ListenerRef {
	return ListenerRef{ARN: l.ARN, LoadBalancerARN: l.LoadBalancerARN, Port: l.Port, Protocol: l.Protocol}
}

func percent(n, of int) int {
	if of == 0 {
		return 0
	}
	return (n*100 + of/2) / of
}

// DeletePlan tears down everything observed, in the safe order: listeners, then load
// balancers, then target groups (a target group cannot be deleted while a listener
// forwards to it). It is not guarded: the Prod is going, and the caller has taken its
// weight to 0 first. Target groups still attached to a load balancer drover does not own
// are left, with a note.
func DeletePlan(observed *Observed) Plan {
	p := Plan{}
	if observed == nil {
		return p
	}
	owned := map[string]bool{}
	for _, lb := range observed.LoadBalancers {
		owned[lb.ARN] = true
		for _, l := range lb.Listeners {
			p.DeleteListeners = append(p.DeleteListeners, listenerRef(l))
		}
		p.DeleteLoadBalancers = append(p.DeleteLoadBalancers, lb.Ref())
	}
	for _, tg := range observed.TargetGroups {
		if foreign := slices.DeleteFunc(slices.Clone(tg.LoadBalancerARNs), func(arn string) bool { return owned[arn] }); len(foreign) > 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("target group %s is not deleted: it is attached to load balancer %s, which drover does not own",
				tg.Ref(), strings.Join(foreign, ", ")))
			continue
		}
		p.DeleteTargetGroups = append(p.DeleteTargetGroups, tg.Ref())
	}
	return p
}

// Counts are the sizes of a plan, or what Apply did of it.
type Counts struct {
	CreateLoadBalancers int
	CreateTargetGroups  int
	ModifyTargetGroups  int
	// RegisterTargets and DeregisterTargets count targets, not calls.
	RegisterTargets     int
	CreateListeners     int
	ModifyListeners     int
	DeregisterTargets   int
	DeleteListeners     int
	DeleteLoadBalancers int
	DeleteTargetGroups  int
}

// Creates counts created load balancers, target groups and listeners.
func (c Counts) Creates() int {
	return c.CreateLoadBalancers + c.CreateTargetGroups + c.CreateListeners
}

// Modifies counts modified target groups and listeners.
func (c Counts) Modifies() int { return c.ModifyTargetGroups + c.ModifyListeners }

// Deletes counts deleted listeners, load balancers and target groups.
func (c Counts) Deletes() int {
	return c.DeleteListeners + c.DeleteLoadBalancers + c.DeleteTargetGroups
}

// Registers counts targets registered.
func (c Counts) Registers() int { return c.RegisterTargets }

// Deregisters counts targets deregistered.
func (c Counts) Deregisters() int { return c.DeregisterTargets }

// IsZero tells whether there is nothing.
func (c Counts) IsZero() bool { return c == Counts{} }

// String lists the non-zero counts in Apply's order ("create 1 target group, register 3
// targets"), or "nothing".
func (c Counts) String() string { return c.describe(false) }

// PastTense lists the non-zero counts as done ("created 1 target group, registered 3
// targets"), or "nothing": what Apply did.
func (c Counts) PastTense() string { return c.describe(true) }

func (c Counts) describe(past bool) string {
	var parts []string
	add := func(n int, verb, pastVerb, noun string) {
		if n == 0 {
			return
		}
		if past {
			verb = pastVerb
		}
		if n != 1 {
			noun += "s"
		}
		parts = append(parts, fmt.Sprintf("%s %d %s", verb, n, noun))
	}
	add(c.CreateLoadBalancers, "create", "created", "load balancer")
	add(c.CreateTargetGroups, "create", "created", "target group")
	add(c.ModifyTargetGroups, "modify", "modified", "target group")
	add(c.RegisterTargets, "register", "registered", "target")
	add(c.CreateListeners, "create", "created", "listener")
	add(c.ModifyListeners, "modify", "modified", "listener")
	add(c.DeregisterTargets, "deregister", "deregistered", "target")
	add(c.DeleteListeners, "delete", "deleted", "listener")
	add(c.DeleteLoadBalancers, "delete", "deleted", "load balancer")
	add(c.DeleteTargetGroups, "delete", "deleted", "target group")
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// Counts are the sizes of the plan.
func (p Plan) Counts() Counts {
	c := Counts{
		CreateTargetGroups:  len(p.CreateTargetGroups),
		ModifyTargetGroups:  len(p.ModifyTargetGroups),
		CreateListeners:     len(p.CreateListeners),
		ModifyListeners:     len(p.ModifyListeners),
		DeleteListeners:     len(p.DeleteListeners),
		DeleteLoadBalancers: len(p.DeleteLoadBalancers),
		DeleteTargetGroups:  len(p.DeleteTargetGroups),
	}
	if p.CreateLoadBalancer != nil {
		c.CreateLoadBalancers = 1
	}
	for _, r := range p.RegisterTargets {
		c.RegisterTargets += len(r.Targets)
	}
	for _, d := range p.DeregisterTargets {
		c.DeregisterTargets += len(d.Targets)
	}
	return c
}

// Empty tells whether the plan changes nothing (AWS matches the model).
func (p Plan) Empty() bool { return p.Counts().IsZero() }

// Summary is one line for status and events: "in sync", what the plan does, or why it is
// blocked and what it holds.
func (p Plan) Summary() string {
	s := "in sync"
	if !p.Empty() {
		s = p.Counts().String()
	}
	if p.Blocked {
		return "blocked: " + strings.Join(p.BlockedReasons, "; ") + "; held: " + s
	}
	return s
}
