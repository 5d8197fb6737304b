package releasediff

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prodset"
	"github.com/drover-dev/drover/internal/manifests"
	"github.com/drover-dev/drover/internal/tenancy"
	"github.com/drover-dev/drover/internal/textcut"
	"github.com/drover-dev/drover/internal/workload"
)

// previewer diffs one Prod at a time.
type previewer struct {
	client        client.Client
	clusterCache  clustercache.ClusterCache
	impersonators *workload.Impersonators
	policy        tenancy.Policy
}

// preview is what template would change on prod's workload cluster: the objects, or a
// message saying why none can be shown. It follows the Prod controller's apply step by
// step, with every write a dry-run:
//
//   - the Cluster must be one the tenancy allows, and connected and healthy;
//   - the objects are rendered (manifests.Render) and checked by the tenancy
//     (tenancy.Policy.Manifests) as the Prod controller renders and checks them;
//   - the target namespace must be the Prod's to use; one that does not exist is shown
//     as created, with every object in it created as rendered (a dry-run cannot create
//     into a namespace that does not exist, and the namespace is not created);
//   - each object is read as the Prod's identity and judged by manifests.ClaimObject; one
//     the Prod may not take is Refused and nothing of it is shown; the others are applied
//     with DryRun=All as that identity and compared with the live object;
//   - what the Prod's inventory lists and the candidate drops, and the Prod still owns,
//     is shown as deleted.
func (p *previewer) preview(ctx context.Context, prod *droverv1.Prod, template *droverv1.ProdTemplate) (string, []droverv1.ReleaseDiffObject) {
	key := client.ObjectKey{Namespace: prod.ClusterNamespace(), Name: prod.Spec.ClusterRef.Name}
	if ref := p.policy.ClusterCandidate(key.Namespace, key.Name); ref != nil {
		return ref.Error(), nil
	}
	cluster := &clusterv1.Cluster{}
	if err := p.client.Get(ctx, key, cluster); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("Cluster %s does not exist", key), nil
		}
		return fmt.Sprintf("reading Cluster %s: %v", key, err), nil
	}
	if ref := p.policy.Cluster(cluster.Namespace, cluster.Name, cluster.Labels); ref != nil {
		return ref.Error(), nil
	}
	admin, err := p.clusterCache.GetUncachedClient(ctx, key)
	if err != nil {
		if errors.Is(err, clustercache.ErrClusterNotConnected) {
			return fmt.Sprintf("Cluster %s cannot be reached: no connection to its API server", key), nil
		}
		return fmt.Sprintf("Cluster %s cannot be reached: %v", key, err), nil
	}
	if h := p.clusterCache.GetHealthCheckingState(ctx, key); h.ConsecutiveFailures > 0 {
		return fmt.Sprintf("Cluster %s cannot be reached: its API server failed %d health probes in a row", key, h.ConsecutiveFailures), nil
	}
	as, ref, err := p.impersonators.As(ctx, p.clusterCache, key, admin, p.policy)
	switch {
	case err != nil:
		return err.Error(), nil
	case ref != nil:
		return ref.Error(), nil
	}

	candidate := prod.DeepCopy()
	candidate.Spec.ProdTemplateSpec = prodset.TemplateSpecFor(template, prodset.ProdIndex(prod))
	objs, err := manifests.Render(candidate, workload.ScopeOf(as))
	if err != nil {
		if workload.IsUnreachable(err) {
			return unreachable(key, err), nil
		}
		return fmt.Sprintf("the candidate cannot be applied: %v", err), nil
	}
	target := candidate.Spec.TargetNamespace
	if ref := p.policy.TargetNamespace(target); ref != nil {
		return ref.Error(), nil
	}

	var out []droverv1.ReleaseDiffObject
	nsExists, msg := p.namespace(ctx, key, admin, candidate)
	if msg != "" {
		return msg, nil
	}
	if !nsExists {
		ns := &unstructured.Unstructured{}
		ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		ns.SetName(target)
		ns.SetLabels(map[string]string{droverv1.ManagedByLabel: droverv1.FieldManager})
		ns.SetAnnotations(map[string]string{droverv1.OwnerNamespaceAnnotation: prod.Namespace})
		out = append(out, diffed(ns, nil, ns, droverv1.ReleaseDiffCreate))
	}
	for _, o := range objs {
		out = append(out, p.object(ctx, as, candidate, o, nsExists))
	}
	return "", append(out, p.pruned(ctx, as, candidate, objs)...)
}

// namespace reads the target namespace (as drover, as the Prod controller does): exists
// false when it does not exist; a message when it exists and is not the Prod's to use.
func (p *previewer) namespace(ctx context.Context, key client.ObjectKey, admin client.Client, prod *droverv1.Prod) (exists bool, msg string) {
	ns := &corev1.Namespace{}
	name := prod.Spec.TargetNamespace
	if err := admin.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return false, ""
		}
		if workload.IsUnreachable(err) {
			return false, unreachable(key, err)
		}
		return false, fmt.Sprintf("reading namespace %s: %s", name, clip(err.Error()))
	}
	tenantOf := func(namespace string) string {
		n := &corev1.Namespace{}
		if err := p.client.Get(ctx, client.ObjectKey{Name: namespace}, n); err != nil {
			return ""
		}
		return n.Labels[droverv1.TenantLabel]
	}
	if !p.policy.SharesTargetNamespaces(ns.Annotations[droverv1.OwnerNamespaceAnnotation], tenantOf) {
		return true, fmt.Sprintf("%s: namespace %s exists and was not created by drover for namespace %s; nothing would be applied",
			droverv1.ReleaseDiffNotOwnedReason, name, prod.Namespace)
	}
	return true, ""
}

// object is what the candidate would do to one rendered object o.
func (p *previewer) object(ctx context.Context, as client.Client, prod *droverv1.Prod, o *unstructured.Unstructured, nsExists bool) droverv1.ReleaseDiffObject {
	if ref := p.policy.Object(o.GroupVersionKind().GroupKind(), o.GetNamespace() != ""); ref != nil {
		return refused(o, droverv1.ReleaseDiffNotPermittedReason, ref.Error())
	}
	if !nsExists && o.GetNamespace() != "" {
		// Into a namespace that would be created: created as rendered.
		return diffed(o, nil, o, droverv1.ReleaseDiffCreate)
	}
	ref := manifests.RefOf(o)
	_, inInventory := manifests.Recorded(prod.Status.Inventory, ref)
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(o.GroupVersionKind())
	var existing *unstructured.Unstructured
	switch err := as.Get(ctx, client.ObjectKeyFromObject(o), live); {
	case err == nil:
		existing = live
	case !apierrors.IsNotFound(err):
		return failed(o, err)
	}
	var claim manifests.Claim
	if existing != nil {
		claim = manifests.ClaimObject(prod, existing, inInventory)
	}
	switch claim.Verdict {
	case manifests.NotOwned:
		return refused(o, droverv1.ReleaseDiffNotOwnedReason, "the object exists on the workload cluster and was not created by drover; drover would not take it over")
	case manifests.OwnershipConflict:
		return refused(o, droverv1.ReleaseDiffOwnershipConflictReason, "the object belongs to another Prod")
	}
	applied := o.DeepCopy()
	if existing != nil {
		// As the Prod controller applies it: to the object of the UID it was found as.
		applied.SetUID(existing.GetUID())
	}
	err := as.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied),
		client.FieldOwner(droverv1.FieldManager), client.ForceOwnership, client.DryRunAll)
	if err != nil {
		return failed(o, err)
	}
	action := droverv1.ReleaseDiffUpdate
	if existing == nil {
		action = droverv1.ReleaseDiffCreate
	}
	return diffed(o, existing, applied, action)
}

// pruned lists the objects of the Prod's inventory the candidate drops and the Prod
// still owns: the Prod controller would delete them. A Namespace is never deleted.
func (p *previewer) pruned(ctx context.Context, as client.Client, prod *droverv1.Prod, objs []*unstructured.Unstructured) []droverv1.ReleaseDiffObject {
	var out []droverv1.ReleaseDiffObject
	for _, ref := range manifests.Stale(prod.Status.Inventory, manifests.Inventory(objs)) {
		if ref.Group == "" && ref.Kind == "Namespace" {
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind})
		live.SetNamespace(ref.Namespace)
		live.SetName(ref.Name)
		err := as.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, live)
		switch {
		case apierrors.IsNotFound(err) || workload.IsNoMatch(err):
			continue
		case err != nil:
			out = append(out, failed(live, err))
			continue
		case !manifests.Owns(prod, live, true):
			continue // someone else's now: the prune leaves it
		}
		out = append(out, diffed(live, live, nil, droverv1.ReleaseDiffDelete))
	}
	return out
}

// diffed is the entry of an object with its diff; an Update that changes nothing is
// Unchanged.
func diffed(o, live, candidate *unstructured.Unstructured, action droverv1.ReleaseDiffAction) droverv1.ReleaseDiffObject {
	e := entry(o, action)
	diff, changed, truncated, err := Diff(describe(o), live, candidate)
	switch {
	case err != nil:
		e.Message = clip("the diff could not be shown: " + err.Error())
	case !changed && action == droverv1.ReleaseDiffUpdate:
		e.Action = droverv1.ReleaseDiffUnchanged
	default:
		e.Diff, e.DiffTruncated = diff, truncated
	}
	return e
}

// refused is the entry of an object drover would not apply; nothing of it is shown.
func refused(o *unstructured.Unstructured, reason, msg string) droverv1.ReleaseDiffObject {
	e := entry(o, droverv1.ReleaseDiffRefused)
	e.Reason, e.Message = reason, clip(msg)
	return e
}

// failed is the entry of an object the workload cluster refused to read or dry-run.
func failed(o *unstructured.Unstructured, err error) droverv1.ReleaseDiffObject {
	reason := droverv1.ReleaseDiffInvalidReason
	switch {
	case apierrors.IsForbidden(err):
		reason = droverv1.ReleaseDiffForbiddenReason
	case workload.IsUnreachable(err):
		reason = "Unreachable"
	}
	return refused(o, reason, err.Error())
}

func entry(o *unstructured.Unstructured, action droverv1.ReleaseDiffAction) droverv1.ReleaseDiffObject {
	return droverv1.ReleaseDiffObject{
		APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName(), Action: action,
	}
}

// unreachable is the message of a Prod whose cluster did not answer.
func unreachable(cluster client.ObjectKey, err error) string {
	return clip(fmt.Sprintf("Cluster %s cannot be reached: %v", cluster, err))
}

// describe names an object in a diff's file names: "<kind>/<namespace>/<name>".
func describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// clip bounds a message, on a rune boundary.
func clip(s string) string { return textcut.Mark(s, maxMessage) }
