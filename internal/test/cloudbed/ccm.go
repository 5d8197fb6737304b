package cloudbed

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/mirror"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
)

// CCM: a stand-in for the OpenStack cloud controller manager (CCM), which in a
// real private cloud gives every Service of type LoadBalancer an Octavia load balancer.
// For each Prod whose spec.traffic.serviceRef names such a Service on its workload
// cluster, it creates a load balancer in the Clouds' Octavia with a listener per
// Service port, whose pool's members are the Service's ready endpoints (so the NLB
// mirror's targets follow the Pods), writes the load balancer's id in the Service's
// loadbalancer.openstack.org/load-balancer-id annotation and its VIP in the Service's
// status, as the CCM does, and deletes the load balancer once the Prod is gone.
//
// It also plays Octavia's health manager, which the no-op drivers lack (they leave
// every load balancer OFFLINE): each load balancer's operating status is ONLINE, or
// what the Prod's OperatingStatusAnnotation says, so that a user can fail a Prod's
// Octavia path and watch Route53 send its traffic to the NLB.

// OperatingStatusAnnotation on a Prod sets the operating status of its Octavia load
// balancer in the Clouds (ONLINE without it; the sandbox and the e2e suite use it).
const OperatingStatusAnnotation = "sandbox.drover.dev/octavia-operating-status"

// ccmInterval is how often the stand-in looks at the Prods. Each pass makes at most one
// change to each load balancer, which Octavia's no-op worker completes in about a second.
const ccmInterval = time.Second

// operatingStatuses are the operating statuses Octavia knows.
var operatingStatuses = []string{"ONLINE", "DRAINING", "OFFLINE", "DEGRADED", "ERROR", "NO_MONITOR"}

// operatingStatusOf is the operating status the Prod's annotation asks for (upper-cased),
// ONLINE without one, or an error for a status Octavia does not know.
func operatingStatusOf(p *droverv1.Prod) (string, error) {
	v, ok := p.Annotations[OperatingStatusAnnotation]
	if !ok || strings.TrimSpace(v) == "" {
		return "ONLINE", nil
	}
	v = strings.ToUpper(strings.TrimSpace(v))
	if !slices.Contains(operatingStatuses, v) {
		return "", fmt.Errorf("%s=%q is not an Octavia operating status (%s)", OperatingStatusAnnotation, p.Annotations[OperatingStatusAnnotation], strings.Join(operatingStatuses, ", "))
	}
	return v, nil
}

// listenerSpec is a listener the stand-in wants: a Service port and the ready endpoints
// behind it.
type listenerSpec struct {
	Port     int32
	Protocol string // TCP, UDP or SCTP
	Members  []memberSpec
}

// memberSpec is a pool member.
type memberSpec struct {
	Address string
	Port    int32
}

// desiredListeners returns a listener per port of the Service, in port order, each with
// the ready IPv4 endpoints of its port in the Service's EndpointSlices as members
// (sorted, each once).
func desiredListeners(svc *corev1.Service, endpointSlices []discoveryv1.EndpointSlice) []listenerSpec {
	var out []listenerSpec
	for _, sp := range svc.Spec.Ports {
		l := listenerSpec{Port: sp.Port, Protocol: string(cmp.Or(sp.Protocol, corev1.ProtocolTCP))}
		for _, es := range endpointSlices {
			if es.AddressType != discoveryv1.AddressTypeIPv4 {
				continue
			}
			for _, ep := range es.Ports {
				if ep.Port == nil || ptrOr(ep.Name, "") != sp.Name || cmp.Or(ptrOr(ep.Protocol, corev1.ProtocolTCP), corev1.ProtocolTCP) != cmp.Or(sp.Protocol, corev1.ProtocolTCP) {
					continue
				}
				for _, e := range es.Endpoints {
					if !ptrOr(e.Conditions.Ready, true) {
						continue
					}
					for _, a := range e.Addresses {
						m := memberSpec{Address: a, Port: *ep.Port}
						if !slices.Contains(l.Members, m) {
							l.Members = append(l.Members, m)
						}
					}
				}
			}
		}
		slices.SortFunc(l.Members, func(a, b memberSpec) int {
			return cmp.Or(cmp.Compare(a.Address, b.Address), cmp.Compare(a.Port, b.Port))
		})
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b listenerSpec) int { return cmp.Compare(a.Port, b.Port) })
	return out
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// standIn is what the stand-in made for one Prod (by UID).
type standIn struct {
	prod      string // namespace/name
	cluster   string
	service   client.ObjectKey
	lbID, vip string
	listeners map[int32]*standInListener // by Service port
	status    string                     // the operating status last reported
	served    bool                       // the Service has the annotation and the ingress
	// stuckSince is when Octavia first refused a change because a listener or pool of
	// an ACTIVE load balancer is immutable (PENDING_*): on this SQLite-backed Octavia the
	// worker can lose such a job, which leaves the object PENDING for good.
	stuckSince time.Time
	// pendingSince is when the load balancer was first seen PENDING_*.
	pendingSince time.Time
}

// pendingCreateAfter is how long a new load balancer may stay PENDING_CREATE before the
// stand-in gives it up (it cannot be deleted while PENDING) and creates another.
const pendingCreateAfter = 60 * time.Second

// stuckAfter is how long a listener or pool may stay immutable under an ACTIVE load
// balancer before the stand-in gives the load balancer up and builds another.
const stuckAfter = 30 * time.Second

type standInListener struct {
	id, poolID string
	members    []memberSpec
	membersSet bool
}

// statusWriter writes operating statuses into Octavia's database
// (octaviatest.Server.WriteOperatingStatus).
type statusWriter interface {
	WriteOperatingStatus(ctx context.Context, obj octaviatest.Object, id, status string) error
}

// CCM is the stand-in. Its methods run on one goroutine (Run).
type CCM struct {
	cp       client.Client
	workload func(cluster string) client.Client // nil for a cluster it does not know
	lbaas    *gophercloud.ServiceClient
	status   statusWriter
	out      io.Writer

	lbs      map[types.UID]*standIn
	reported map[types.UID]string // the last problem reported per Prod
	failures map[types.UID]int    // failed passes in a row per Prod
	vips     int                  // VIPs handed out
}

func NewCCM(cp client.Client, workload func(string) client.Client, c *Clouds, out io.Writer) *CCM {
	return &CCM{cp: cp, workload: workload, lbaas: c.LBaaS, status: c.Octavia, out: out,
		lbs: map[types.UID]*standIn{}, reported: map[types.UID]string{}, failures: map[types.UID]int{}}
}

// Run syncs every ccmInterval until ctx ends.
func (c *CCM) Run(ctx context.Context) {
	tick := time.NewTicker(ccmInterval)
	defer tick.Stop()
	for {
		c.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *CCM) printf(format string, args ...any) {
	fmt.Fprintf(c.out, "%s ccm: %s\n", time.Now().Format(time.TimeOnly), fmt.Sprintf(format, args...))
}

// sync makes one pass over the Prods, and deletes the load balancers of Prods that are
// gone.
func (c *CCM) sync(ctx context.Context) {
	var list droverv1.ProdList
	if err := c.cp.List(ctx, &list); err != nil {
		return // an unreachable control plane: the next pass tries again
	}
	seen := map[types.UID]bool{}
	for i := range list.Items {
		p := &list.Items[i]
		seen[p.UID] = true
		if p.Spec.Traffic.ServiceRef == nil {
			continue
		}
		err := c.syncProd(ctx, p)
		if err == nil {
			delete(c.reported, p.UID)
			delete(c.failures, p.UID)
			continue
		}
		c.failures[p.UID]++
		// Octavia on SQLite refuses a write now and then while its worker writes
		// ("database is locked"): said only when it keeps happening.
		quiet := isTransient(err) && c.failures[p.UID] < transientPasses
		if !quiet && ctx.Err() == nil && c.reported[p.UID] != err.Error() {
			c.printf("Prod %s/%s: %v (retrying)", p.Namespace, p.Name, err)
			c.reported[p.UID] = err.Error()
		}
	}
	for uid, s := range c.lbs {
		if seen[uid] {
			continue
		}
		err := loadbalancers.Delete(ctx, c.lbaas, s.lbID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr()
		if err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			continue // PENDING_UPDATE (409): next pass
		}
		c.printf("Prod %s is gone: deleted its Octavia load balancer %s", s.prod, s.lbID)
		delete(c.lbs, uid)
		delete(c.reported, uid)
		delete(c.failures, uid)
	}
}

// syncProd makes at most one change to the Prod's load balancer, then serves the
// Service once the load balancer has everything.
func (c *CCM) syncProd(ctx context.Context, p *droverv1.Prod) error {
	wl := c.workload(p.Spec.ClusterRef.Name)
	if wl == nil {
		return nil
	}
	svc := &corev1.Service{}
	key := client.ObjectKey{Namespace: p.Spec.TargetNamespace, Name: p.Spec.Traffic.ServiceRef.Name}
	if err := wl.Get(ctx, key, svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // not applied yet
		}
		return fmt.Errorf("reading Service %s on %s: %w", key, p.Spec.ClusterRef.Name, err)
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil
	}
	var es discoveryv1.EndpointSliceList
	if err := wl.List(ctx, &es, client.InNamespace(key.Namespace), client.MatchingLabels{discoveryv1.LabelServiceName: key.Name}); err != nil {
		return fmt.Errorf("reading the endpoints of Service %s on %s: %w", key, p.Spec.ClusterRef.Name, err)
	}
	want := desiredListeners(svc, es.Items)

	s := c.lbs[p.UID]
	if s == nil {
		lb, err := loadbalancers.Create(ctx, c.lbaas, loadbalancers.CreateOpts{
			Name:        p.Name,
			Description: fmt.Sprintf("Service %s of Prod %s/%s on cluster %s", key, p.Namespace, p.Name, p.Spec.ClusterRef.Name),
			VipSubnetID: octaviatest.VIPSubnetID,
			VipAddress:  vipAddress(c.vips),
		}).Extract()
		if err != nil {
			return octaviaError("creating an Octavia load balancer", err)
		}
		c.vips++
		c.lbs[p.UID] = &standIn{prod: p.Namespace + "/" + p.Name, cluster: p.Spec.ClusterRef.Name, service: key,
			lbID: lb.ID, vip: lb.VipAddress, listeners: map[int32]*standInListener{}}
		c.printf("Service %s of Prod %s/%s on %s: creating Octavia load balancer %s (VIP %s)", key, p.Namespace, p.Name, p.Spec.ClusterRef.Name, lb.ID, lb.VipAddress)
		return nil
	}
	lb, err := loadbalancers.Get(ctx, c.lbaas, s.lbID).Extract()
	if err != nil {
		return octaviaError("reading Octavia load balancer "+s.lbID, err)
	}
	switch lb.ProvisioningStatus {
	case "ACTIVE":
		s.pendingSince = time.Time{}
	case "ERROR":
		return fmt.Errorf("the Octavia load balancer %s is in provisioning status ERROR", s.lbID)
	default: // PENDING_*: the worker is at it, unless it lost the job
		if s.pendingSince.IsZero() {
			s.pendingSince = time.Now()
		}
		if lb.ProvisioningStatus == "PENDING_CREATE" && time.Since(s.pendingSince) >= pendingCreateAfter {
			c.printf("Prod %s: Octavia load balancer %s stayed PENDING_CREATE for %s (its worker lost the job); building another", s.prod, s.lbID, pendingCreateAfter)
			delete(c.lbs, p.UID)
		}
		return nil
	}
	if done, err := c.buildOne(ctx, s, want); done || err != nil {
		if !isImmutable(err) {
			s.stuckSince = time.Time{}
			return err
		}
		if s.stuckSince.IsZero() {
			s.stuckSince = time.Now()
		}
		if time.Since(s.stuckSince) < stuckAfter {
			return err
		}
		// Lost by Octavia's worker: start over with a new load balancer (the Service's
		// annotation then names the new one, and the mirror follows).
		if derr := loadbalancers.Delete(ctx, c.lbaas, s.lbID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr(); derr != nil && !gophercloud.ResponseCodeIs(derr, http.StatusNotFound) {
			return octaviaError("deleting the stuck Octavia load balancer "+s.lbID, derr)
		}
		c.printf("Prod %s: Octavia load balancer %s stayed PENDING for %s (its worker lost a job); deleted it, building another", s.prod, s.lbID, stuckAfter)
		delete(c.lbs, p.UID)
		return nil
	}
	s.stuckSince = time.Time{}

	// A status Octavia does not know leaves the one written last (or ONLINE), and is
	// reported once the Service is served.
	status, statusErr := operatingStatusOf(p)
	if statusErr != nil {
		status = cmp.Or(s.status, "ONLINE")
	}
	if lb.OperatingStatus != status {
		if err := c.status.WriteOperatingStatus(ctx, octaviatest.LoadBalancerObject, s.lbID, status); err != nil {
			return err
		}
	}
	if s.status != status && s.served {
		c.printf("Octavia load balancer %s of Prod %s: operating status %s", s.lbID, s.prod, status)
	}
	s.status = status
	if err := c.serve(ctx, wl, svc, s); err != nil {
		return err
	}
	return statusErr
}

// buildOne makes the first change the load balancer needs to match want (a listener, a
// pool, or the members of a pool) and reports whether it made one.
func (c *CCM) buildOne(ctx context.Context, s *standIn, want []listenerSpec) (bool, error) {
	for _, l := range want {
		have := s.listeners[l.Port]
		switch {
		case have == nil:
			ls, err := listeners.Create(ctx, c.lbaas, listeners.CreateOpts{
				LoadbalancerID: s.lbID, Name: fmt.Sprintf("%s-%d", s.service.Name, l.Port),
				Protocol: listeners.Protocol(l.Protocol), ProtocolPort: int(l.Port),
			}).Extract()
			if err != nil {
				return false, octaviaError(fmt.Sprintf("creating the listener %s:%d of %s", l.Protocol, l.Port, s.lbID), err)
			}
			s.listeners[l.Port] = &standInListener{id: ls.ID}
			return true, nil
		case have.poolID == "":
			pool, err := pools.Create(ctx, c.lbaas, pools.CreateOpts{
				ListenerID: have.id, Name: fmt.Sprintf("%s-%d", s.service.Name, l.Port),
				Protocol: pools.Protocol(l.Protocol), LBMethod: pools.LBMethodRoundRobin,
			}).Extract()
			if err != nil {
				return false, octaviaError("creating the pool of listener "+have.id, err)
			}
			have.poolID = pool.ID
			return true, nil
		case have.membersSet && slices.Equal(have.members, l.Members):
		case !have.membersSet && len(l.Members) == 0:
			have.membersSet = true // a new pool has none
		default:
			opts := make([]pools.BatchUpdateMemberOpts, 0, len(l.Members))
			for _, m := range l.Members {
				opts = append(opts, pools.BatchUpdateMemberOpts{Address: m.Address, ProtocolPort: int(m.Port)})
			}
			if err := pools.BatchUpdateMembers(ctx, c.lbaas, have.poolID, opts).ExtractErr(); err != nil {
				return false, octaviaError("setting the members of pool "+have.poolID, err)
			}
			if have.membersSet {
				c.printf("Octavia load balancer %s of Prod %s: port %d now has %d members (the Service's ready endpoints)", s.lbID, s.prod, l.Port, len(l.Members))
			}
			have.members, have.membersSet = l.Members, true
			return true, nil
		}
	}
	return false, nil
}

// serve writes the load balancer's id in the Service's annotation and its VIP in the
// Service's status, as the OpenStack CCM does.
func (c *CCM) serve(ctx context.Context, wl client.Client, svc *corev1.Service, s *standIn) error {
	if svc.Annotations[mirror.LoadBalancerIDAnnotation] != s.lbID {
		patch := client.MergeFrom(svc.DeepCopy())
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		svc.Annotations[mirror.LoadBalancerIDAnnotation] = s.lbID
		if err := wl.Patch(ctx, svc, patch); err != nil {
			return fmt.Errorf("annotating Service %s on %s: %w", s.service, s.cluster, err)
		}
	}
	ingress := []corev1.LoadBalancerIngress{{IP: s.vip}}
	if len(svc.Status.LoadBalancer.Ingress) != 1 || svc.Status.LoadBalancer.Ingress[0].IP != s.vip {
		patch := client.MergeFrom(svc.DeepCopy())
		svc.Status.LoadBalancer.Ingress = ingress
		if err := wl.Status().Patch(ctx, svc, patch); err != nil {
			return fmt.Errorf("writing the ingress of Service %s on %s: %w", s.service, s.cluster, err)
		}
	}
	if !s.served {
		members := 0
		for _, l := range s.listeners {
			members += len(l.members)
		}
		c.printf("Service %s of Prod %s on %s: served by Octavia load balancer %s (%s, VIP %s, %d listeners, %d members)",
			s.service, s.prod, s.cluster, s.lbID, s.status, s.vip, len(s.listeners), members)
		s.served = true
	}
	return nil
}

// transientPasses is how many passes in a row a transient Octavia error may fail a
// Prod's sync before it is reported.
const transientPasses = 5

// vipAddress is the n-th VIP the stand-in asks of Octavia's no-op network driver (which
// would give every load balancer the same one): 198.51.100.10 and on, in the
// documentation range.
func vipAddress(n int) string {
	return fmt.Sprintf("198.51.100.%d", 10+n%240)
}

// octaviaAPIError is an error answer of the Octavia API, shortened to its fault string.
type octaviaAPIError struct {
	doing  string
	status int
	fault  string
}

func (e *octaviaAPIError) Error() string {
	return fmt.Sprintf("%s: Octavia answered %d: %s", e.doing, e.status, e.fault)
}

// octaviaError says what failed doing what; an error answer of the API is shortened to
// its status and the first line of its fault string.
func octaviaError(doing string, err error) error {
	var code gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &code) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	var body struct {
		Fault string `json:"faultstring"`
	}
	fault := strings.TrimSpace(string(code.Body))
	if json.Unmarshal(code.Body, &body) == nil && body.Fault != "" {
		fault = body.Fault
	}
	fault, _, _ = strings.Cut(fault, "\n")
	if len(fault) > 200 {
		fault = fault[:200] + "..."
	}
	return &octaviaAPIError{doing: doing, status: code.Actual, fault: fault}
}

// isImmutable reports whether err is Octavia refusing a change to a listener or pool
// that is PENDING_* ("... is immutable and cannot be updated").
func isImmutable(err error) bool {
	var e *octaviaAPIError
	return errors.As(err, &e) && e.status == http.StatusConflict && strings.Contains(e.fault, "immutable")
}

// isTransient reports whether err is Octavia refusing a change for the moment: its
// SQLite database locked by the worker (500), or the load balancer busy (409).
func isTransient(err error) bool {
	var e *octaviaAPIError
	if !errors.As(err, &e) {
		return false
	}
	return e.status == http.StatusConflict || (e.status == http.StatusInternalServerError && strings.Contains(e.fault, "database is locked"))
}
