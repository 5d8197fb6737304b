package prodset

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// RevisionHistoryLimit is how many templates of a ProdSet are kept besides those its
// Prods and its rollout use.
const RevisionHistoryLimit = 10

// history keeps the templates of a ProdSet's revisions as ControllerRevisions named
// "<set>-<revision>", as Deployments and StatefulSets do, so a rollback (or a Prod
// created mid-rollout) can be given the template of an earlier revision. A revision's
// template never changes, so what was read once is kept in memory; the API server is
// asked only for a revision not seen since the manager started.
type history struct {
	// reader reads ControllerRevisions uncached: the manager caches only their metadata.
	reader client.Reader
	// metadata reads the manager's metadata-only cache of drover's ControllerRevisions
	// (setup.CacheOptions): whether the current revision is kept costs no request, so a
	// restarted manager does not read one ControllerRevision per set. Nil: not cached.
	metadata client.Reader
	writer   client.Client

	mu    sync.Mutex
	known map[types.UID]map[string]*droverv1.ProdTemplate
}

// RevisionName is the name of the ControllerRevision keeping a set's revision.
func RevisionName(set, revision string) string { return set + "-" + revision }

// ControllerRevisionMetadata is the object through which the manager's cache holds the
// metadata of drover's ControllerRevisions.
func ControllerRevisionMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ControllerRevision"))
	return m
}

// keptAsMetadata reports whether the metadata cache holds rev's ControllerRevision of
// set, controlled by set. A cache behind a creation says no, and the API server is asked.
func (h *history) keptAsMetadata(ctx context.Context, set *droverv1.ProdSet, rev string) bool {
	if h.metadata == nil {
		return false
	}
	m := ControllerRevisionMetadata()
	err := h.metadata.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: RevisionName(set.Name, rev)}, m)
	return err == nil && metav1.IsControlledBy(m, set) && m.Labels[droverv1.RevisionLabel] == rev
}

// template returns the template of one revision of set, nil when it is not kept.
func (h *history) template(ctx context.Context, set *droverv1.ProdSet, rev string) (*droverv1.ProdTemplate, error) {
	if t := h.cached(set.UID, rev); t != nil {
		return t, nil
	}
	cr := &appsv1.ControllerRevision{}
	err := h.reader.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: RevisionName(set.Name, rev)}, cr)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading the template of revision %s: %w", rev, err)
	case !metav1.IsControlledBy(cr, set):
		return nil, nil // someone else's object of that name
	}
	t := &droverv1.ProdTemplate{}
	if err := json.Unmarshal(cr.Data.Raw, t); err != nil {
		return nil, fmt.Errorf("decoding the template of revision %s: %w", rev, err)
	}
	h.remember(set.UID, rev, t)
	return t, nil
}

// ensure stores the set's current template under rev, once, and prunes revisions beyond
// the limit that nothing in use names.
func (h *history) ensure(ctx context.Context, set *droverv1.ProdSet, rev string, inUse []string) error {
	if h.cached(set.UID, rev) != nil {
		return nil
	}
	if h.keptAsMetadata(ctx, set, rev) {
		// rev is the hash of the set's template (Revision): the one kept under it is this.
		h.remember(set.UID, rev, set.Spec.Template.DeepCopy())
		return nil
	}
	if t, err := h.template(ctx, set, rev); err != nil || t != nil {
		return err
	}
	list := &appsv1.ControllerRevisionList{}
	if err := h.reader.List(ctx, list, client.InNamespace(set.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name}); err != nil {
		return fmt.Errorf("listing the set's revisions: %w", err)
	}
	var owned []appsv1.ControllerRevision
	var next int64 = 1
	for _, cr := range list.Items {
		if metav1.IsControlledBy(&cr, set) {
			owned = append(owned, cr)
			next = max(next, cr.Revision+1)
		}
	}
	data, err := json.Marshal(set.Spec.Template)
	if err != nil {
		return err
	}
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: RevisionName(set.Name, rev), Namespace: set.Namespace,
			Labels:          map[string]string{droverv1.ProdSetNameLabel: set.Name, droverv1.RevisionLabel: rev},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, droverv1.GroupVersion.WithKind("ProdSet"))},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: next,
	}
	if err := h.writer.Create(ctx, cr); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("keeping the template of revision %s: %w", rev, err)
	}
	h.remember(set.UID, rev, set.Spec.Template.DeepCopy())

	// Prune the oldest beyond the limit, never one in use.
	slices.SortFunc(owned, func(a, b appsv1.ControllerRevision) int { return int(b.Revision - a.Revision) })
	kept := 1 // the one just created
	for _, old := range owned {
		r := old.Labels[droverv1.RevisionLabel]
		if slices.Contains(inUse, r) || r == rev {
			continue
		}
		if kept < RevisionHistoryLimit {
			kept++
			continue
		}
		if err := h.writer.Delete(ctx, &old, client.Preconditions{UID: &old.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("pruning revision %s: %w", r, err)
		}
		h.forget(set.UID, r)
	}
	return nil
}

func (h *history) cached(uid types.UID, rev string) *droverv1.ProdTemplate {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.known[uid][rev]
}

func (h *history) remember(uid types.UID, rev string, t *droverv1.ProdTemplate) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known == nil {
		h.known = map[types.UID]map[string]*droverv1.ProdTemplate{}
	}
	if h.known[uid] == nil {
		h.known[uid] = map[string]*droverv1.ProdTemplate{}
	}
	h.known[uid][rev] = t
}

func (h *history) forget(uid types.UID, rev string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.known[uid], rev)
}

// forgetSet drops everything known about a deleted set.
func (h *history) forgetSet(uid types.UID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.known, uid)
}
