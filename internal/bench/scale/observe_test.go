package scale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// controlPlaneSnapshot records the resourceVersion of every Prod, ProdSet and
// ControllerRevision of the run.
func (s *scenario) controlPlaneSnapshot() objectSnapshot {
	s.tb.Helper()
	snap := objectSnapshot{}
	for _, gvk := range []schema.GroupVersionKind{
		droverv1.GroupVersion.WithKind("Prod"), droverv1.GroupVersion.WithKind("ProdSet"),
		appsv1.SchemeGroupVersion.WithKind("ControllerRevision"),
	} {
		if err := listMeta(s.ctx, s.cp, gvk, "control-plane", snap, client.InNamespace(namespace)); err != nil {
			s.tb.Fatal(err)
		}
	}
	return snap
}

// workloadSnapshot records the resourceVersion of every namespace, and of every
// ConfigMap and Service drover applied, in every workload cluster.
func (s *scenario) workloadSnapshot() objectSnapshot {
	s.tb.Helper()
	snap := objectSnapshot{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(s.bed.Workloads))
	for i, w := range s.bed.Workloads {
		wg.Go(func() {
			part := objectSnapshot{}
			for _, gvk := range s.size.manifestKinds() {
				var opts []client.ListOption
				if gvk.Kind != "Namespace" {
					opts = append(opts, client.HasLabels{droverv1.ProdNameLabel})
				}
				if err := listMeta(s.ctx, w.Client, gvk, w.Name, part, opts...); err != nil {
					errs[i] = err
					return
				}
			}
			mu.Lock()
			for k, v := range part {
				snap[k] = v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.tb.Fatal(err)
	}
	return snap
}

// listMeta lists the metadata of gvk into snap under "<cluster>/<kind>/<ns>/<name>".
func listMeta(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, cluster string, snap objectSnapshot, opts ...client.ListOption) error {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.List(ctx, list, opts...); err != nil {
		return fmt.Errorf("listing %s in %s: %w", gvk.Kind, cluster, err)
	}
	for _, o := range list.Items {
		snap[objectKey(cluster, gvk.Kind, o.Namespace, o.Name)] = o.ResourceVersion
	}
	return nil
}

func objectKey(cluster, kind, ns, name string) string {
	return cluster + "/" + kind + "/" + ns + "/" + name
}

// apiRequests are the request counters of every kube-apiserver of the bed, and the
// watches open on them (see apiServerRequests).
type apiRequests struct {
	cp, workload           requestCounts
	cpWatch, workloadWatch requestCounts
}

// scrapeAPIServers reads the request counters of the control plane and of every
// workload cluster (the workloads summed).
func (s *scenario) scrapeAPIServers() apiRequests {
	s.tb.Helper()
	out := apiRequests{workload: requestCounts{}, workloadWatch: requestCounts{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(s.bed.Workloads)+1)
	wg.Go(func() {
		out.cp, out.cpWatch, errs[0] = apiServerRequests(s.ctx, s.bed.ControlPlane.Config)
	})
	for i, w := range s.bed.Workloads {
		wg.Go(func() {
			c, watch, err := apiServerRequests(s.ctx, w.Config)
			if err != nil {
				errs[i+1] = fmt.Errorf("%s: %w", w.Name, err)
				return
			}
			mu.Lock()
			out.workload.add(c)
			out.workloadWatch.add(watch)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.tb.Fatalf("scraping the kube-apiservers' metrics: %v", err)
	}
	return out
}

// missingObjects lists the inventoried objects of the Prods (and their target
// namespaces) that snap does not hold.
func missingObjects(prods []droverv1.Prod, snap objectSnapshot) []string {
	var missing []string
	for i := range prods {
		p := &prods[i]
		cluster := p.Spec.ClusterRef.Name
		keys := []string{objectKey(cluster, "Namespace", "", p.Spec.TargetNamespace)}
		if len(p.Status.Inventory) == 0 {
			missing = append(missing, fmt.Sprintf("Prod %s has no inventory", p.Name))
		}
		for _, ref := range p.Status.Inventory {
			keys = append(keys, objectKey(cluster, ref.Kind, ref.Namespace, ref.Name))
		}
		for _, k := range keys {
			if _, ok := snap[k]; !ok {
				missing = append(missing, fmt.Sprintf("%s (Prod %s)", k, p.Name))
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// floor measures what any resync must do at the least: list every resource type the
// Prods put on each workload cluster once (all clusters at once, each over a new
// connection, so that connecting and discovery count as they do for a restarted manager), and the control
// plane's Prods, ProdSets and Clusters, decoding it all as an informer would. The best
// of three runs counts. It also measures the heap the decoded control-plane objects
// take, which a manager caching them cannot go below.
func (s *scenario) floor() {
	s.tb.Helper()
	best := time.Duration(0)
	var bestCPU time.Duration
	for range 3 {
		cpu0, err := selfCPU()
		if err != nil {
			s.tb.Fatal(err)
		}
		start := time.Now()
		n := s.listEverything()
		took := time.Since(start)
		cpu1, err := selfCPU()
		if err != nil {
			s.tb.Fatal(err)
		}
		if best == 0 || took < best {
			best, bestCPU = took, cpu1-cpu0
		}
		s.res.FloorRequests = n
	}
	s.res.FloorTime, s.res.FloorCPU = best, bestCPU

	var heaps []int64
	for i := range 3 {
		if i == 0 {
			s.res.ProdBytes = s.prodBytes()
		}
		heaps = append(heaps, s.heldHeap())
	}
	slices.Sort(heaps)
	s.res.FloorHeap = heaps[1]
}

// heldHeap lists the control plane's Prods, ProdSets and Clusters and returns how much
// heap the decoded lists hold: the heap with them minus the heap once they are dropped.
func (s *scenario) heldHeap() int64 {
	s.tb.Helper()
	var held, released runtime.MemStats
	lists := []client.ObjectList{&droverv1.ProdList{}, &droverv1.ProdSetList{}, &clusterv1.ClusterList{}}
	for _, l := range lists {
		if err := s.cp.List(s.ctx, l, client.InNamespace(namespace)); err != nil {
			s.tb.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&held)
	runtime.KeepAlive(lists) // alive until here: dead, so collectable, from here on
	runtime.GC()
	runtime.ReadMemStats(&released)
	return int64(held.HeapAlloc) - int64(released.HeapAlloc)
}

// prodBytes is the mean size of a Prod as JSON.
func (s *scenario) prodBytes() int64 {
	s.tb.Helper()
	prods, err := s.listProds()
	if err != nil {
		s.tb.Fatal(err)
	}
	var bytes int64
	for i := range prods {
		b, err := json.Marshal(&prods[i])
		if err != nil {
			s.tb.Fatal(err)
		}
		bytes += int64(len(b))
	}
	return bytes / int64(max(1, len(prods)))
}

// listEverything lists, decoded, what floor describes; it returns the number of LISTs.
func (s *scenario) listEverything() int {
	s.tb.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(s.bed.Workloads)+1)
	wg.Go(func() {
		for _, l := range []client.ObjectList{&droverv1.ProdList{}, &droverv1.ProdSetList{}, &clusterv1.ClusterList{},
			&droverv1.ClusterMaintenanceList{}, &droverv1.RolloutPolicyList{}, &corev1.SecretList{}} {
			if err := s.cp.List(s.ctx, l, client.InNamespace(namespace)); err != nil {
				errs[0] = err
				return
			}
		}
	})
	for i, w := range s.bed.Workloads {
		wg.Go(func() {
			// A new client, as a restarted manager has: the time includes connecting
			// (TLS) and discovering the types' resources, as the manager must.
			c, err := client.New(w.Config, client.Options{Scheme: s.bed.Scheme})
			if err != nil {
				errs[i+1] = fmt.Errorf("%s: %w", w.Name, err)
				return
			}
			lists := []client.ObjectList{&corev1.NamespaceList{}, &corev1.ConfigMapList{}, &corev1.ServiceList{}}
			if !s.size.NoDeployment {
				lists = append(lists, &appsv1.DeploymentList{})
			}
			for _, l := range lists {
				var opts []client.ListOption
				if _, ns := l.(*corev1.NamespaceList); !ns {
					opts = append(opts, client.HasLabels{droverv1.ProdNameLabel})
				}
				if err := c.List(s.ctx, l, opts...); err != nil {
					errs[i+1] = fmt.Errorf("%s: %w", w.Name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.tb.Fatal(err)
	}
	return controlPlaneInformers + len(s.size.manifestKinds())*len(s.bed.Workloads)
}
