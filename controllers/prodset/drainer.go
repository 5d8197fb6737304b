package prodset

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/traffic"
)

// Drainer answers the Prod controller for the Prods of a ProdSet from the set's status,
// which the ProdSet controller, the only writer of the set's DNS records, keeps. Prods of
// their own, and sets whose weights nobody publishes, are traffic.None's.
type Drainer struct {
	Client client.Client
	// Publishing: the manager has a traffic provider.
	Publishing bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (d Drainer) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

var _ traffic.Drainer = Drainer{}

// drainRetry is how soon the Prod controller asks again while a Prod drains.
const drainRetry = 2 * time.Second

// summary returns the Prod's set and its summary there; a nil set means the Prod's
// weights are not published by a set.
func (d Drainer) summary(ctx context.Context, prod *droverv1.Prod) (*droverv1.ProdSet, *droverv1.ProdSummary, error) {
	ref := metav1.GetControllerOf(prod)
	if ref == nil || ref.Kind != "ProdSet" || ref.APIVersion != droverv1.GroupVersion.String() {
		return nil, nil, nil
	}
	// The cached set is read without a copy (every Prod of a set of hundreds asks, and a
	// copy of the set costs its every Prod's summary): what is returned is copied out of
	// it, and nothing writes to it.
	cached := &droverv1.ProdSet{}
	if err := d.Client.Get(ctx, client.ObjectKey{Namespace: prod.Namespace, Name: ref.Name}, cached, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if cached.UID != ref.UID {
		return nil, nil, nil
	}
	if _, ok := serviceOf(d.Publishing, cached); !ok {
		return nil, nil, nil
	}
	set := &droverv1.ProdSet{ObjectMeta: *cached.ObjectMeta.DeepCopy(), Spec: droverv1.ProdSetSpec{Traffic: cached.Spec.Traffic.DeepCopy()}}
	for i := range cached.Status.Prods {
		if cached.Status.Prods[i].Name == prod.Name {
			return set, cached.Status.Prods[i].DeepCopy(), nil
		}
	}
	return set, nil, nil
}

// Drain reports drained once the set has the Prod's weight at 0 in sync for a TTL (the
// set's controller takes every deleting Prod to 0 on its own).
func (d Drainer) Drain(ctx context.Context, prod *droverv1.Prod) (bool, time.Duration, error) {
	set, sum, err := d.summary(ctx, prod)
	if err != nil {
		return false, 0, fmt.Errorf("reading the Prod's ProdSet: %w", err)
	}
	if set == nil {
		return traffic.None{}.Drain(ctx, prod)
	}
	if sum == nil || (sum.PublishedWeight == nil && sum.PendingWeight == nil) {
		// Never published; the set lists every Prod it has published a record for.
		return true, 0, nil
	}
	if sum.Drained {
		return true, 0, nil
	}
	return false, drainRetry, nil
}

// Status reports the Prod's TrafficReady condition from the set's summary.
func (d Drainer) Status(ctx context.Context, prod *droverv1.Prod) traffic.State {
	set, sum, err := d.summary(ctx, prod)
	c := metav1.Condition{Type: droverv1.ProdTrafficReadyCondition}
	switch {
	case err != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, droverv1.ProdTrafficPendingReason, "reading the Prod's ProdSet: "+err.Error()
		return traffic.State{Condition: c, PublishedWeight: prod.Status.PublishedWeight}
	case set == nil:
		return traffic.None{}.Status(ctx, prod)
	case sum == nil:
		c.Status, c.Reason = metav1.ConditionFalse, droverv1.ProdTrafficPendingReason
		c.Message = fmt.Sprintf("ProdSet %s has not published a weight for this Prod yet", set.Name)
		return traffic.State{Condition: c}
	}
	st := traffic.State{PublishedWeight: sum.PublishedWeight}
	desired := int32(0)
	if sum.Weight != nil {
		desired = *sum.Weight
	}
	switch {
	case sum.PendingWeight != nil:
		c.Status, c.Reason = metav1.ConditionFalse, droverv1.ProdTrafficPendingReason
		c.Message = fmt.Sprintf("weight %d submitted to DNS, not in sync yet", *sum.PendingWeight)
	case sum.Evicted != "":
		c.Status, c.Reason = metav1.ConditionTrue, droverv1.ProdTrafficDrainingReason
		c.Message = fmt.Sprintf("out of traffic (%s); drained: %t", sum.Evicted, sum.Drained)
	case sum.PublishedWeight != nil && *sum.PublishedWeight == desired:
		c.Status, c.Reason = metav1.ConditionTrue, droverv1.ProdTrafficReadyReason
		c.Message = fmt.Sprintf("weight %d in sync in DNS under %s", desired, set.Spec.Traffic.RecordName)
	default:
		c.Status, c.Reason = metav1.ConditionFalse, droverv1.ProdTrafficPendingReason
		c.Message = fmt.Sprintf("weight %d wanted; DNS has %s (it is published once the Prod is available)", desired, weightString(sum.PublishedWeight))
	}
	st.Condition = c
	return st
}

func weightString(w *int32) string {
	if w == nil {
		return "no record"
	}
	return fmt.Sprint(*w)
}

// PathsSettled reports whether the path records DNS has for the Prod are the ones its
// spec and status make now, in sync for a TTL: a path that left them, such as the NLB of
// a mirror just disabled, receives no more traffic and may go. A Prod whose paths no set
// publishes is settled.
func (d Drainer) PathsSettled(ctx context.Context, prod *droverv1.Prod) (bool, time.Duration, error) {
	set, sum, err := d.summary(ctx, prod)
	if err != nil {
		return false, 0, fmt.Errorf("reading the Prod's ProdSet: %w", err)
	}
	if set == nil || sum == nil || (sum.PublishedPaths == "" && sum.PendingPaths == "") {
		return true, 0, nil
	}
	svc, _ := serviceOf(d.Publishing, set)
	want := pathsOf(set, prod).Digest()
	now := d.now()
	switch {
	case sum.PendingPaths != "" || sum.PublishedPaths != want || sum.PublishedTime == nil:
		return false, drainRetry, nil
	case now.Sub(sum.PublishedTime.Time) < svc.TTL:
		return false, sum.PublishedTime.Add(svc.TTL).Sub(now) + 100*time.Millisecond, nil
	}
	return true, 0, nil
}
