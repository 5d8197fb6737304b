package prodset

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/freeze"
)

// +kubebuilder:rbac:groups=drover.dev,resources=freezes;clusterfreezes,verbs=get;list;watch

// freezes is what the freezes that hold now say about a set's rollout.
type freezes struct {
	// set: why the whole rollout is held; "" when it is not.
	set string
	// byCluster: why the Prods of a cluster ("namespace/name") are held.
	byCluster map[string]string
	// next is when one of them starts or stops holding; zero: none will.
	next time.Time
}

// readFreezes is freezesOf for a reconcile that acts on them: the set is woken when the
// next of them starts or ends, and, when they cannot be read, held (a freeze that cannot
// be read may hold: nothing moves until it can be) with the error returned.
func (r *Reconciler) readFreezes(ctx context.Context, s *scope) (freezes, error) {
	fz, err := r.freezesOf(ctx, s)
	if err != nil {
		r.hold(ctx, s, droverv1.ProdSetRolloutProgressing, "cannot read the freezes: "+err.Error())
		return fz, err
	}
	if !fz.next.IsZero() {
		s.after(fz.next.Sub(s.now) + time.Second)
	}
	return fz, nil
}

// freezesOf reads the Freezes of the set's namespace and the ClusterFreezes, from the
// cache, and judges them at s.now (freeze.At).
func (r *Reconciler) freezesOf(ctx context.Context, s *scope) (freezes, error) {
	out := freezes{byCluster: map[string]string{}}
	var held []string
	// judge is the state of a freeze at s.now, noting when it next changes; why says
	// what holds, when it holds.
	judge := func(kind, name string, t droverv1.FreezeTime, created time.Time) (why string) {
		st := freeze.At(t, created, s.now)
		next := st.Until
		if !st.Active {
			next = st.Next
		}
		if !next.IsZero() && (out.next.IsZero() || next.Before(out.next)) {
			out.next = next
		}
		if !st.Active {
			return ""
		}
		return freeze.Describe(kind, name, t.Reason, st)
	}
	list := &droverv1.FreezeList{}
	if err := r.Client.List(ctx, list, client.InNamespace(s.set.Namespace)); err != nil {
		return out, fmt.Errorf("listing Freezes: %w", err)
	}
	for _, f := range list.Items {
		if len(f.Spec.ProdSets) > 0 && !slices.Contains(f.Spec.ProdSets, s.set.Name) {
			continue
		}
		if why := judge("Freeze", f.Namespace+"/"+f.Name, f.Spec.FreezeTime, f.CreationTimestamp.Time); why != "" {
			held = append(held, why)
		}
	}
	clusterList := &droverv1.ClusterFreezeList{}
	if err := r.Client.List(ctx, clusterList); err != nil {
		return out, fmt.Errorf("listing ClusterFreezes: %w", err)
	}
	for _, f := range clusterList.Items {
		if len(f.Spec.Namespaces) > 0 && !slices.Contains(f.Spec.Namespaces, s.set.Namespace) {
			continue
		}
		why := judge("ClusterFreeze", f.Name, f.Spec.FreezeTime, f.CreationTimestamp.Time)
		if why == "" {
			continue
		}
		if len(f.Spec.Clusters) == 0 {
			held = append(held, why)
			continue
		}
		for _, c := range f.Spec.Clusters {
			if _, seen := out.byCluster[c]; !seen {
				out.byCluster[c] = why
			}
		}
	}
	slices.Sort(held)
	switch len(held) {
	case 0:
	case 1:
		out.set = held[0]
	default:
		out.set = fmt.Sprintf("%s (and %d more: %s)", held[0], len(held)-1, strings.Join(held[1:], "; "))
	}
	return out, nil
}

// clusterKey is the "namespace/name" of a Prod's Cluster, as a ClusterFreeze names it.
func clusterKey(p *droverv1.Prod) string {
	return p.ClusterNamespace() + "/" + p.Spec.ClusterRef.Name
}

// allSets wakes every ProdSet, for a ClusterFreeze that changed.
func (r *Reconciler) allSets(ctx context.Context, _ client.Object) []ctrl.Request {
	list := &droverv1.ProdSetList{}
	if err := r.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing ProdSets to wake after a ClusterFreeze changed")
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}
