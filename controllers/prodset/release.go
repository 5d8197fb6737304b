package prodset

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/leftovers"
)

// ReasonReleased (Warning): a deleted ProdSet carrying drover.dev/release-finalizers was
// let go although its DNS records could not be removed; the event says which are left.
const ReasonReleased = "Released"

// The manager hands drover.dev/release-finalizers down to a released set's Prods, which
// the admission policy drover-release-finalizers allows only with this permission.
// +kubebuilder:rbac:groups=drover.dev,resources=prods/release-finalizers,verbs=update

// reconcileRelease lets a deleted set that the platform team released
// (drover.dev/release-finalizers=true) go although DNS cannot be reached. Its Prods are
// released too and deleted at once, drained or not (their own finalizers then give up on
// what they cannot reach). Once they are gone, records still published after this
// reconcile tried once more to remove them (a publication that failed) are recorded as
// left behind, in a Warning event and a leftovers record in the manager's namespace, and
// the finalizer goes. A removal that DNS accepted is waited for as usual.
func (r *Reconciler) reconcileRelease(ctx context.Context, s *scope) (ctrl.Result, error) {
	set := s.set
	if set.DeletionTimestamp.IsZero() || set.Annotations[droverv1.ReleaseFinalizersAnnotation] != "true" {
		return ctrl.Result{}, nil
	}
	for _, p := range s.prods {
		if p.Annotations[droverv1.ReleaseFinalizersAnnotation] != "true" {
			before := p.DeepCopy()
			if p.Annotations == nil {
				p.Annotations = map[string]string{}
			}
			p.Annotations[droverv1.ReleaseFinalizersAnnotation] = "true"
			if err := r.Client.Patch(ctx, p, client.MergeFrom(before)); err != nil {
				return ctrl.Result{}, fmt.Errorf("releasing Prod %s: %w", p.Name, err)
			}
		}
		if p.DeletionTimestamp.IsZero() {
			if err := r.Client.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("deleting released Prod %s: %w", p.Name, err)
			}
		}
	}
	if len(s.prods) > 0 {
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	if !s.recordsLeft() {
		releaseSeen.Delete(set.UID)
		return ctrl.Result{}, nil // reconcileFinalizer lets it go
	}
	// One more try: the removal was submitted by this reconcile or an earlier one. A
	// publication refused at once, or records still there releaseGrace after the release
	// was first seen (a batch Route53 refused comes back as a lost change and is sent
	// again, endlessly), is given up.
	first, _ := releaseSeen.LoadOrStore(set.UID, s.now)
	waited := s.now.Sub(first.(time.Time))
	if s.publishErr == nil && waited < releaseGrace {
		return ctrl.Result{RequeueAfter: releaseGrace - waited}, nil
	}
	why := fmt.Sprintf("the records were still in DNS %s after the release", waited.Round(time.Second))
	if s.publishErr != nil {
		why = s.publishErr.Error()
	}
	left := r.recordsLeftBehind(s)
	rec := leftovers.Record{
		Kind: "ProdSet", Namespace: set.Namespace, Name: set.Name, UID: string(set.UID), Finalizer: droverv1.ProdSetFinalizer,
		Released: r.Now(), Reason: "removing the DNS records: " + why, Left: left,
	}
	if err := leftovers.Write(ctx, r.Client, r.LeftoversNamespace, rec); err != nil {
		return ctrl.Result{}, fmt.Errorf("%s is set, but what is left could not be recorded, so the finalizer stays: %w", droverv1.ReleaseFinalizersAnnotation, err)
	}
	r.event(set, corev1.EventTypeWarning, ReasonReleased, "Release", "%s",
		leftovers.EventMessage(rec, "removing its DNS records", r.LeftoversNamespace))
	// reconcileFinalizer lets it go: the records are no longer the set's to wait for.
	for _, sum := range s.summaries {
		sum.PublishedWeight, sum.PendingWeight = nil, nil
	}
	if st := set.Status.Traffic; st != nil {
		st.ChangeID = ""
	}
	releaseSeen.Delete(set.UID)
	return ctrl.Result{}, nil
}

// releaseGrace is how long a released set's records are given to leave DNS before they
// are recorded as left behind.
const releaseGrace = 30 * time.Second

// releaseSeen is when this manager first saw each released set with records left, by UID.
var releaseSeen sync.Map

// recordsLeftBehind names the set's weighted record sets (and their path records) that
// may still be in DNS.
func (r *Reconciler) recordsLeftBehind(s *scope) []string {
	zone, name := "", ""
	if t := s.set.Spec.Traffic; t != nil {
		zone, name = t.HostedZoneID, t.RecordName
	}
	var out []string
	for prod, sum := range s.summaries {
		if sum.PublishedWeight == nil && sum.PendingWeight == nil {
			continue
		}
		out = append(out, fmt.Sprintf("Route53 record set %s (set identifier %s) in hosted zone %s, with its path records and health checks",
			name, RecordID(s.set.Namespace, prod), zone))
	}
	if st := s.set.Status.Traffic; st != nil && st.ChangeID != "" {
		out = append(out, "Route53 change "+st.ChangeID+" (its outcome unknown)")
	}
	slices.Sort(out)
	return out
}
