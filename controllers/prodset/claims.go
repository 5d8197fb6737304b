package prodset

import (
	"context"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	tenancyread "github.com/drover-dev/drover/internal/tenancy/read"
	"github.com/drover-dev/drover/internal/traffic"
)

// claimKey names a record name in a hosted zone, as status.traffic.claimedName holds it.
func claimKey(zoneID, name string) string { return traffic.ClaimKey(zoneID, name) }

// holder is the ProdSet that holds a record name.
type holder struct {
	set types.NamespacedName
	uid types.UID
}

// claims says which ProdSet holds each record name of each hosted zone: one name, one
// set. Only the leader reconciles sets, so the registry in its memory decides between two
// sets claiming a name at once; a set that gets a name records it in its status before
// it publishes anything, and a new leader loads the registry from those statuses.
type claims struct {
	mu     sync.Mutex
	loaded bool
	held   map[string]holder
	// waiting are the sets refused a name, by name: they are woken when it is let go.
	waiting map[string]map[types.NamespacedName]bool
	// wake enqueues a set; nil wakes nobody.
	wake func(types.NamespacedName)
}

// hold gives key to set unless another ProdSet that still exists holds it, and returns
// the holder. cache lists the sets (once, to load the registry); live reads the holder
// when another set asks for its name, so that a set deleted or renamed since does not
// keep it.
func (c *claims) hold(ctx context.Context, cache, live client.Reader, key string, set *droverv1.ProdSet) (holder, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		if err := c.load(ctx, cache); err != nil {
			return holder{}, false, err
		}
	}
	me := holder{set: client.ObjectKeyFromObject(set), uid: set.UID}
	cur, found := c.held[key]
	if !found || cur.uid == me.uid {
		c.held[key] = me
		delete(c.waiting[key], me.set)
		return me, true, nil
	}
	if c.waiting == nil {
		c.waiting = map[string]map[types.NamespacedName]bool{}
	}
	if c.waiting[key] == nil {
		c.waiting[key] = map[types.NamespacedName]bool{}
	}
	c.waiting[key][me.set] = true
	other := &droverv1.ProdSet{}
	err := live.Get(ctx, cur.set, other)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return holder{}, false, fmt.Errorf("reading ProdSet %s, which holds %s: %w", cur.set, key, err)
	case other.UID != cur.uid:
	case other.Status.Traffic != nil && other.Status.Traffic.ClaimedName == key:
		return cur, false, nil
	case other.Spec.Traffic != nil && claimKey(other.Spec.Traffic.HostedZoneID, other.Spec.Traffic.RecordName) == key:
		return cur, false, nil // granted, its status not written yet
	}
	// The holder is gone, or holds another name now.
	ctrl.LoggerFrom(ctx).Info("record name taken over from a ProdSet that no longer holds it", "name", key, "from", cur.set)
	c.held[key] = me
	delete(c.waiting[key], me.set)
	return me, true, nil
}

// load reads who holds what from every set's status; of two that say they hold one name
// (which the registry never allows, but a status may be older than a restore), the one
// created first keeps it.
func (c *claims) load(ctx context.Context, cache client.Reader) error {
	list := &droverv1.ProdSetList{}
	if err := cache.List(ctx, list); err != nil {
		return fmt.Errorf("listing ProdSets for the record names they hold: %w", err)
	}
	c.held = map[string]holder{}
	created := map[string]*droverv1.ProdSet{}
	for i := range list.Items {
		set := &list.Items[i]
		if set.Status.Traffic == nil || set.Status.Traffic.ClaimedName == "" {
			continue
		}
		key := set.Status.Traffic.ClaimedName
		if first := created[key]; first != nil && !set.CreationTimestamp.Before(&first.CreationTimestamp) {
			continue
		}
		created[key] = set
		c.held[key] = holder{set: client.ObjectKeyFromObject(set), uid: set.UID}
	}
	c.loaded = true
	return nil
}

// release lets key go if set holds it, and wakes the sets that asked for it.
func (c *claims) release(key string, uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.held[key]; ok && cur.uid == uid {
		delete(c.held, key)
		for set := range c.waiting[key] {
			if c.wake != nil {
				c.wake(set)
			}
		}
		delete(c.waiting, key)
	}
}

// reconcileClaim decides whether the set may publish under its record name: its
// namespace's Tenant must allow the name in the zone, and no other ProdSet may hold it. A
// set that may not publishes nothing but the removal of the records it has, and says why
// on TrafficReady. A set that gets the name records it in its status before anything is
// published. A set being deleted only removes its own records and needs no name.
func (r *Reconciler) reconcileClaim(ctx context.Context, s *scope) (ctrl.Result, error) {
	st := s.set.Status.Traffic
	held := ""
	if st != nil {
		held = st.ClaimedName
	}
	svc, ok := r.service(s.set)
	if !ok {
		if held != "" && !s.recordsLeft() {
			r.claims.release(held, s.set.UID)
			st.ClaimedName = ""
		}
		return ctrl.Result{}, nil
	}
	key := claimKey(svc.Zone, svc.Name)
	if held != "" && held != key {
		r.claims.release(held, s.set.UID)
		st.ClaimedName, held = "", ""
	}
	policy, err := r.namespacePolicy(ctx, s)
	if err != nil {
		s.publishErr = err
		s.claimFailed = true
		return ctrl.Result{}, err
	}
	reserved, err := tenancyread.ReservedZones(ctx, r.Client)
	if err != nil {
		s.publishErr = err
		s.claimFailed = true
		return ctrl.Result{}, err
	}
	if refusal := policy.RecordName(svc.Zone, svc.Name, reserved); refusal != nil {
		s.withdraw(droverv1.ProdSetTrafficNotPermittedReason, refusal.Message)
		if held != "" {
			r.claims.release(held, s.set.UID)
			st.ClaimedName = ""
		}
		return ctrl.Result{}, nil
	}
	cur, granted, err := r.claims.hold(ctx, r.Client, r.APIReader, key, s.set)
	if err != nil {
		s.publishErr = err
		s.claimFailed = true
		return ctrl.Result{}, err
	}
	if !granted {
		who := "another ProdSet"
		if cur.set.Namespace == s.set.Namespace {
			who = "ProdSet " + cur.set.Name
		}
		s.withdraw(droverv1.ProdSetNameClaimedReason, fmt.Sprintf("record %s in hosted zone %s belongs to %s, which published under it first; choose another spec.traffic.recordName",
			strings.TrimSuffix(strings.ToLower(svc.Name), "."), svc.Zone, who))
		return ctrl.Result{}, nil
	}
	if held == key {
		return ctrl.Result{}, nil
	}
	// Recorded before anything is published, so that a new leader knows who holds it.
	obj := s.stored.DeepCopy()
	if obj.Status.Traffic == nil {
		obj.Status.Traffic = &droverv1.ProdSetTrafficStatus{}
	}
	obj.Status.Traffic.ClaimedName = key
	s.wroteMidway = true
	if err := r.Client.Status().Patch(ctx, obj, client.MergeFrom(s.stored)); err != nil {
		r.claims.release(key, s.set.UID)
		s.claimFailed = true
		return ctrl.Result{}, fmt.Errorf("recording that the set holds %s: %w", key, err)
	}
	if s.set.Status.Traffic == nil {
		s.set.Status.Traffic = &droverv1.ProdSetTrafficStatus{}
	}
	s.set.Status.Traffic.ClaimedName = key
	return ctrl.Result{}, nil
}

// withdraw says the set may not publish under its name, and why: TrafficReady turns False
// with reason, and reconcilePublish removes the records the set has instead.
func (s *scope) withdraw(reason, message string) {
	s.refusal, s.refusalReason, s.withdrawing = message, reason, true
}

// publishingSets maps any object to every ProdSet with spec.traffic: what a Tenant allows
// can change any of them.
func (r *Reconciler) publishingSets(ctx context.Context, _ client.Object) []ctrl.Request {
	list := &droverv1.ProdSetList{}
	if err := r.Client.List(ctx, list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing ProdSets to wake after a Tenant changed")
		return nil
	}
	var reqs []ctrl.Request
	for i := range list.Items {
		if list.Items[i].Spec.Traffic != nil {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}
