package scale

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/builder"
	"github.com/drover-dev/drover/internal/test/testbed"
)

const (
	// namespace holds the Cluster objects, kubeconfig Secrets, ProdSets and Prods.
	namespace = "bench"
	// regionLabel spreads each set's Prods over regions, as users do.
	regionLabel = "topology.drover.dev/region"
	// poolLabel puts the clusters into pools of Size.PerSet clusters; each set selects
	// one pool (see Size).
	poolLabel = "bench.drover.dev/pool"
	// regions is how many regions the clusters of one pool are spread over.
	regions = 4
	// version is the release every Prod runs.
	version = "v1"
)

// Size is the shape of one run: Prods Prods in ProdSets of PerSet replicas (the last
// one smaller if PerSet does not divide Prods) over Clusters workload clusters. Each
// Prod is a ConfigMap and a headless Service, and a Deployment of one Pod unless
// NoDeployment (DROVER_BENCH_DEPLOYMENT=0: the shape, and the workload clusters
// then run no kube-controller-manager, kube-scheduler or kwok).
//
// Clusters are split into Clusters/PerSet pools (label bench.drover.dev/pool) and
// labelled with one of four regions; ProdSet i selects pool i mod pools and spreads its
// Prods over that pool's regions and clusters, one per cluster. That is how app teams
// place: a set selects the clusters meant for it. (Placement decides per set and breaks
// ties by cluster name, so sets that all select every cluster would all land on the
// same lowest-named clusters and leave the others empty.) Sets share hosted zones,
// SetsPerZone to a zone.
type Size struct {
	Prods       int
	Clusters    int
	PerSet      int
	SetsPerZone int
	// NoDeployment leaves the Deployment out of every Prod.
	NoDeployment bool
}

// normalize makes the size runnable: at most one Prod of a set per cluster.
func (s Size) normalize() (Size, error) {
	if s.Prods < 1 || s.Clusters < 1 {
		return s, fmt.Errorf("size %+v: need at least one Prod and one cluster", s)
	}
	if s.PerSet < 1 || s.PerSet > s.Clusters {
		s.PerSet = min(10, s.Clusters)
	}
	if s.SetsPerZone < 1 {
		s.SetsPerZone = 10
	}
	return s, nil
}

// pools is how many pools the clusters form; each has at least PerSet clusters.
func (s Size) pools() int { return max(1, s.Clusters/s.PerSet) }

// setSpec is one ProdSet to create.
type setSpec struct {
	name     string
	replicas int
	pool     string
	zone     string
}

// sets lists the ProdSets of the size.
func (s Size) sets() []setSpec {
	var out []setSpec
	for i, left := 0, s.Prods; left > 0; i++ {
		n := min(s.PerSet, left)
		left -= n
		out = append(out, setSpec{
			name:     fmt.Sprintf("app-%04d", i),
			replicas: n,
			pool:     fmt.Sprintf("pool-%d", i%s.pools()),
			zone:     fmt.Sprintf("ZBENCH%04d", i/s.SetsPerZone),
		})
	}
	return out
}

// workloads lists the workload clusters of the size with their pool and region.
func (s Size) workloads() []testbed.WorkloadOptions {
	pools := s.pools()
	out := make([]testbed.WorkloadOptions, s.Clusters)
	for i := range out {
		out[i] = testbed.WorkloadOptions{
			Name: fmt.Sprintf("workload-%02d", i+1),
			// kube-controller-manager, kube-scheduler and kwok run the Deployments' Pods.
			Controllers: !s.NoDeployment,
			Labels: map[string]string{
				poolLabel:   fmt.Sprintf("pool-%d", i%pools),
				regionLabel: fmt.Sprintf("region-%d", (i/pools)%regions),
			},
		}
	}
	return out
}

// prodSet is the ProdSet of spec: an app of a ConfigMap, a headless Service (headless so
// that no ClusterIP is allocated from envtest's /24 service range) and a Deployment of one
// Pod, which the cluster's kube-controller-manager, kube-scheduler and kwok run (no
// container runs; the Pod becomes Running and Ready), published to a hosted zone. Without
// deployment the Deployment is left out.
func prodSet(spec setSpec, deployment bool) *droverv1.ProdSet {
	settings := strings.Repeat("# tuning knob left at its default\n", 16) // ~0.5 KiB, as real config is
	cm := map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": spec.name + "-config"},
		"data": map[string]any{
			"LOG_LEVEL": "info", "RELEASE": "${DROVER_VERSION}", "settings.conf": settings,
		},
	}
	svc := map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": spec.name, "labels": map[string]any{"app.kubernetes.io/name": spec.name}},
		"spec": map[string]any{
			"clusterIP": "None",
			"selector":  map[string]any{"app.kubernetes.io/name": spec.name},
			"ports":     []any{map[string]any{"name": "http", "port": 80, "targetPort": 8080}},
		},
	}
	labels := map[string]any{"app.kubernetes.io/name": spec.name}
	deploy := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": spec.name, "labels": labels},
		"spec": map[string]any{
			"replicas": 1,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{
					"containers": []any{map[string]any{
						"name": "app", "image": "registry.example/" + spec.name + ":${DROVER_VERSION}",
						"ports":     []any{map[string]any{"name": "http", "containerPort": 8080}},
						"env":       []any{map[string]any{"name": "LOG_LEVEL", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": spec.name + "-config", "key": "LOG_LEVEL"}}}},
						"resources": map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "32Mi"}},
					}},
				},
			},
		},
	}
	manifests := []builder.Object{cm, svc}
	if deployment {
		manifests = append(manifests, deploy)
	}
	return builder.ProdSet(namespace, spec.name, builder.Replicas(int32(spec.replicas)), builder.Version(version),
		builder.TemplateLabels(map[string]string{"app.kubernetes.io/name": spec.name}),
		builder.WithManifests(manifests...), builder.Weight(100),
		builder.OnClusters(poolLabel, spec.pool), builder.Spread(regionLabel, 1),
		builder.Records(spec.zone, spec.name+".bench.example.com", 30))
}

// manifestKinds are the resource types a Prod of prodSet puts on its cluster: its
// objects and its target namespace. A resync that verified every Prod by listing needs
// one LIST of each per cluster (and a watch, to hear of drift after; an informer's watch
// brings its list).
func (s Size) manifestKinds() []schema.GroupVersionKind {
	kinds := []schema.GroupVersionKind{
		corev1.SchemeGroupVersion.WithKind("Namespace"),
		corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		corev1.SchemeGroupVersion.WithKind("Service"),
	}
	if !s.NoDeployment {
		kinds = append(kinds, appsv1.SchemeGroupVersion.WithKind("Deployment"))
	}
	return kinds
}

// objectsPerProd is how many objects of its manifests each Prod of prodSet has.
func (s Size) objectsPerProd() int { return len(s.manifestKinds()) - 1 }

// controlPlaneInformers is what a manager must read from the control plane at the
// least when it starts: one LIST of each kind it reconciles or places by (Prods,
// ProdSets, Clusters, ClusterMaintenances, RolloutPolicies) and one of the kubeconfig
// Secrets.
const controlPlaneInformers = 6
