package cli

import (
	"context"
	"fmt"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// The dashboard reads the control plane with the user's own credentials through
// client-go informers: one list, then a watch, per kind and scope. What the user may not
// list is not watched at all; the page says so (Hidden) instead.

// dashKind is one kind the dashboard watches.
type dashKind struct {
	// name in the page's words, plural ("ProdSets").
	name    string
	newObj  func() client.Object
	newList func() client.ObjectList
	// clusterScoped kinds are listed once, across namespaces.
	clusterScoped bool
	// platform kinds live in the platform team's namespaces (Clusters, their
	// maintenances): listed across namespaces when the user may, else in the view's
	// namespace.
	platform bool
}

var dashKinds = []dashKind{
	{name: "ProdSets", newObj: func() client.Object { return &droverv1.ProdSet{} }, newList: func() client.ObjectList { return &droverv1.ProdSetList{} }},
	{name: "Prods", newObj: func() client.Object { return &droverv1.Prod{} }, newList: func() client.ObjectList { return &droverv1.ProdList{} }},
	{name: "RolloutPolicies", newObj: func() client.Object { return &droverv1.RolloutPolicy{} }, newList: func() client.ObjectList { return &droverv1.RolloutPolicyList{} }},
	{name: "Releases", newObj: func() client.Object { return &droverv1.Release{} }, newList: func() client.ObjectList { return &droverv1.ReleaseList{} }},
	{name: "Freezes", newObj: func() client.Object { return &droverv1.Freeze{} }, newList: func() client.ObjectList { return &droverv1.FreezeList{} }},
	{name: "ClusterFreezes", clusterScoped: true, newObj: func() client.Object { return &droverv1.ClusterFreeze{} }, newList: func() client.ObjectList { return &droverv1.ClusterFreezeList{} }},
	{name: "Clusters", platform: true, newObj: func() client.Object { return &clusterv1.Cluster{} }, newList: func() client.ObjectList { return &clusterv1.ClusterList{} }},
	{name: "ClusterMaintenances", platform: true, newObj: func() client.Object { return &droverv1.ClusterMaintenance{} }, newList: func() client.ObjectList { return &droverv1.ClusterMaintenanceList{} }},
}

// dashSource keeps the informers' stores and says when something changed.
type dashSource struct {
	scope     string
	namespace string // "" for every namespace
	hidden    []string
	mu        sync.Mutex
	stores    map[string]cache.Store // by kind name; absent when not listed
	changed   chan struct{}
	patch     map[string]patchAnswer // by namespace
}

// startDashSource decides the view's scope, then lists and watches every kind the user
// may list in it. allNamespaces asks for every namespace (an error if the user may not
// list ProdSets across them); namespace, when explicit, asks for that one only;
// otherwise every namespace when the user may, else fallback (the kubeconfig's).
func startDashSource(ctx context.Context, cl client.WithWatch, allNamespaces bool, namespace, fallback string) (*dashSource, error) {
	s := &dashSource{stores: map[string]cache.Store{}, changed: make(chan struct{}, 1)}
	switch {
	case allNamespaces:
		if err := probe(ctx, cl, dashKinds[0], ""); err != nil {
			return nil, fmt.Errorf("listing ProdSets in every namespace: %w", err)
		}
	case namespace != "":
		s.namespace = namespace
	default:
		if err := probe(ctx, cl, dashKinds[0], ""); err != nil {
			if !apierrors.IsForbidden(err) {
				return nil, fmt.Errorf("listing ProdSets: %w", err)
			}
			s.namespace = fallback
		}
	}
	s.scope = "all namespaces"
	if s.namespace != "" {
		s.scope = "namespace " + s.namespace
		if err := probe(ctx, cl, dashKinds[0], s.namespace); err != nil && !apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("listing ProdSets in namespace %s: %w", s.namespace, err)
		}
	}

	var synced []cache.InformerSynced
	for _, k := range dashKinds {
		ns := s.namespace
		if k.clusterScoped {
			ns = ""
		}
		var err error
		if k.platform && ns != "" {
			// Across namespaces when the user may, else in the view's namespace.
			if err = probe(ctx, cl, k, ""); err == nil {
				ns = ""
			} else if apierrors.IsForbidden(err) {
				err = probe(ctx, cl, k, ns)
			}
		} else {
			err = probe(ctx, cl, k, ns)
		}
		if err != nil {
			s.hidden = append(s.hidden, hiddenText(k, ns, err))
			continue
		}
		inf := s.inform(cl, k, ns)
		synced = append(synced, inf.HasSynced)
		go inf.RunWithContext(ctx)
	}
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), synced...) {
		return nil, fmt.Errorf("reading the control plane: %w", syncCtx.Err())
	}
	return s, nil
}

// syncTimeout bounds the first list of every kind.
const syncTimeout = time.Minute

// probe lists at most one object of kind k in ns ("" for every namespace): whether the
// user may list it there.
func probe(ctx context.Context, cl client.Client, k dashKind, ns string) error {
	opts := []client.ListOption{client.Limit(1)}
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	return cl.List(ctx, k.newList(), opts...)
}

// hiddenText says what the page does not show, and why.
func hiddenText(k dashKind, ns string, err error) string {
	where := " in any namespace"
	if ns != "" {
		where = " in namespace " + ns
	}
	if k.clusterScoped {
		where = ""
	}
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Sprintf("%s%s: your credentials may not list them", k.name, where)
	case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
		return fmt.Sprintf("%s: not installed on this cluster", k.name)
	}
	return fmt.Sprintf("%s%s: %v", k.name, where, err)
}

// inform builds the informer of kind k in ns; every change signals s.changed.
func (s *dashSource) inform(cl client.WithWatch, k dashKind, ns string) cache.SharedIndexInformer {
	opts := func(o metav1.ListOptions) []client.ListOption {
		lo := []client.ListOption{&client.ListOptions{Raw: &o}}
		if ns != "" {
			lo = append(lo, client.InNamespace(ns))
		}
		return lo
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			l := k.newList()
			err := cl.List(ctx, l, opts(o)...)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cl.Watch(ctx, k.newList(), opts(o)...)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, k.newObj(), 0, cache.Indexers{})
	// The page needs no managed fields; the store need not keep them.
	_ = inf.SetTransform(func(o any) (any, error) {
		if m, ok := o.(metav1.Object); ok {
			m.SetManagedFields(nil)
		}
		return o, nil
	})
	signal := func() {
		select {
		case s.changed <- struct{}{}:
		default:
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { signal() },
		UpdateFunc: func(any, any) { signal() },
		DeleteFunc: func(any) { signal() },
	})
	s.mu.Lock()
	s.stores[k.name] = inf.GetStore()
	s.mu.Unlock()
	return inf
}

// items are the objects of a store, as values (read only: the store's own).
func items[T any](s cache.Store) []T {
	if s == nil {
		return nil
	}
	var out []T
	for _, o := range s.List() {
		if p, ok := o.(*T); ok {
			out = append(out, *p)
		}
	}
	return out
}

// patchCheck is how long the answer to "may the user patch ProdSets in this namespace"
// is kept before it is asked again.
const patchCheck = time.Minute

// mayPatch asks the API server (SelfSubjectAccessReview), for each namespace of the
// sets, whether the user may patch ProdSets there, at most once per patchCheck. A
// failed review leaves the namespace unanswered: the commands stay offered, and the
// API server still decides when one is sent.
func (s *dashSource) mayPatch(ctx context.Context, cl client.Client, sets []droverv1.ProdSet, now time.Time) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.patch == nil {
		s.patch = map[string]patchAnswer{}
	}
	out := map[string]bool{}
	for _, set := range sets {
		ns := set.Namespace
		if _, done := out[ns]; done {
			continue
		}
		a, ok := s.patch[ns]
		if !ok || now.Sub(a.at) > patchCheck {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: "patch", Group: droverv1.GroupVersion.Group, Resource: "prodsets",
				},
			}}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := cl.Create(rctx, review)
			cancel()
			if err != nil {
				continue
			}
			a = patchAnswer{allowed: review.Status.Allowed, at: now}
			s.patch[ns] = a
		}
		out[ns] = a.allowed
	}
	return out
}

type patchAnswer struct {
	allowed bool
	at      time.Time
}

// data is what the stores hold now.
func (s *dashSource) data() *dashboardData {
	s.mu.Lock()
	stores := s.stores
	s.mu.Unlock()
	_, clustersListed := stores["Clusters"]
	return &dashboardData{
		scope: s.scope, hidden: s.hidden, clustersListed: clustersListed,
		sets:           items[droverv1.ProdSet](stores["ProdSets"]),
		prods:          items[droverv1.Prod](stores["Prods"]),
		policies:       items[droverv1.RolloutPolicy](stores["RolloutPolicies"]),
		releases:       items[droverv1.Release](stores["Releases"]),
		freezes:        items[droverv1.Freeze](stores["Freezes"]),
		clusterFreezes: items[droverv1.ClusterFreeze](stores["ClusterFreezes"]),
		clusters:       items[clusterv1.Cluster](stores["Clusters"]),
		maintenances:   items[droverv1.ClusterMaintenance](stores["ClusterMaintenances"]),
	}
}

// dashHub holds the latest view and hands it to the page's event streams.
type dashHub struct {
	mu     sync.Mutex
	latest []byte
	key    string
	subs   map[chan []byte]struct{}
}

func newDashHub() *dashHub { return &dashHub{subs: map[chan []byte]struct{}{}} }

// publish makes b the latest view, unless it equals the last but for its time (key).
func (h *dashHub) publish(key string, b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if key == h.key && h.latest != nil {
		return
	}
	h.key, h.latest = key, b
	for ch := range h.subs {
		select {
		case <-ch: // a slow page gets only the newest view
		default:
		}
		ch <- b
	}
}

// subscribe returns a channel of views, starting with the latest.
func (h *dashHub) subscribe() (chan []byte, func()) {
	ch := make(chan []byte, 1)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	if h.latest != nil {
		ch <- h.latest
	}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *dashHub) current() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

// dashRefresh is how often the view is rebuilt when nothing changed (a freeze's window
// opening is a change of time, not of objects). It reads no object.
const dashRefresh = 15 * time.Second

// dashDebounce gathers the changes of one reconcile into one view.
const dashDebounce = 100 * time.Millisecond
