// Package builder makes the objects drover's tests create, with functional options, so
// that each suite states only what its story needs: a ProdSet, a Prod, a RolloutPolicy,
// a ClusterMaintenance, and the manifests a Prod applies. It builds objects; it creates
// nothing (the suites create them with their own clients and clean up as they need).
package builder

import (
	"crypto/sha1" //nolint:gosec // a name-based test id, not a secret
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Object is a manifest as a map, marshalled into a Prod's manifests.
type Object = map[string]any

// Manifests marshals objects into a Prod's manifests.
func Manifests(objects ...Object) []runtime.RawExtension {
	out := make([]runtime.RawExtension, 0, len(objects))
	for _, o := range objects {
		b, err := json.Marshal(o)
		if err != nil {
			panic(fmt.Sprintf("builder: a manifest that does not marshal: %v", err))
		}
		out = append(out, runtime.RawExtension{Raw: b})
	}
	return out
}

// ConfigMap is a ConfigMap named name whose data.version is the Prod's version
// (${DROVER_VERSION}): available as soon as it is applied.
func ConfigMap(name string) Object {
	return Object{"apiVersion": "v1", "kind": "ConfigMap", "metadata": Object{"name": name},
		"data": Object{"version": "${DROVER_VERSION}"}}
}

// Deployment is a Deployment of two replicas whose image carries the Prod's version:
// a new version rolls its Pods out, and the Prod is available once they are (on a
// workload cluster with kube-controller-manager, a scheduler and kwok's nodes).
func Deployment(name string) Object {
	labels := Object{"app": name}
	return Object{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": Object{"name": name},
		"spec": Object{
			"replicas": 2, "selector": Object{"matchLabels": labels},
			"template": Object{"metadata": Object{"labels": labels},
				"spec": Object{"containers": []any{Object{"name": name, "image": "registry.example/" + name + ":${DROVER_VERSION}"}}}},
		},
	}
}

// SetOption changes a ProdSet being built.
type SetOption func(*droverv1.ProdSet)

// ProdSet is a ProdSet namespace/name of one Prod at version v1 in the target namespace
// name, applying a ConfigMap "settings" that carries the version, on any cluster, with
// no traffic; options change it.
func ProdSet(namespace, name string, opts ...SetOption) *droverv1.ProdSet {
	set := &droverv1.ProdSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: droverv1.ProdSetSpec{
			Replicas: ptr.To[int32](1),
			Template: droverv1.ProdTemplate{Spec: droverv1.ProdTemplateSpec{
				Version: "v1", TargetNamespace: name, Manifests: Manifests(ConfigMap("settings")),
			}},
		},
	}
	for _, o := range opts {
		o(set)
	}
	return set
}

// Replicas sets how many Prods the set has.
func Replicas(n int32) SetOption {
	return func(s *droverv1.ProdSet) { s.Spec.Replicas = ptr.To(n) }
}

// Version sets the template's version.
func Version(v string) SetOption {
	return func(s *droverv1.ProdSet) { s.Spec.Template.Spec.Version = v }
}

// WithManifests replaces the template's manifests.
func WithManifests(objects ...Object) SetOption {
	return func(s *droverv1.ProdSet) { s.Spec.Template.Spec.Manifests = Manifests(objects...) }
}

// OnClusters places the set on the clusters labelled key=value; given for several keys,
// on the clusters that have every one of those labels.
func OnClusters(key, value string) SetOption {
	return func(s *droverv1.ProdSet) {
		sel := &s.Spec.Placement.ClusterSelector
		if sel.MatchLabels == nil {
			sel.MatchLabels = map[string]droverv1.LabelValue{}
		}
		sel.MatchLabels[key] = droverv1.LabelValue(value)
	}
}

// Spread spreads the set's Prods over the clusters' values of topologyKey, at most
// maxPerCluster on one cluster.
func Spread(topologyKey string, maxPerCluster int32) SetOption {
	return func(s *droverv1.ProdSet) {
		s.Spec.Placement.TopologyKey = topologyKey
		s.Spec.Placement.MaxPerCluster = maxPerCluster
	}
}

// MaxUnavailable sets how many of the set's Prods may be out of traffic at once ("50%"
// or a number).
func MaxUnavailable(v string) SetOption {
	return func(s *droverv1.ProdSet) { s.Spec.Placement.MaxUnavailable = ptr.To(intstr.Parse(v)) }
}

// MinAvailable sets the set's serving minimum ("50%" or a number).
func MinAvailable(v string) SetOption {
	return func(s *droverv1.ProdSet) { s.Spec.Placement.MinAvailable = ptr.To(intstr.Parse(v)) }
}

// UnreachableToleration sets how long a Prod's cluster may be unreachable before the set
// replaces the Prod elsewhere.
func UnreachableToleration(d time.Duration) SetOption {
	return func(s *droverv1.ProdSet) { s.Spec.Placement.UnreachableToleration = &metav1.Duration{Duration: d} }
}

// TemplateLabels sets the labels of the set's Prods.
func TemplateLabels(labels map[string]string) SetOption {
	return func(s *droverv1.ProdSet) { s.Spec.Template.Metadata.Labels = labels }
}

// Weight sets the weight of each of the set's Prods.
func Weight(w int32) SetOption {
	return func(s *droverv1.ProdSet) { s.Spec.Template.Spec.Traffic.Weight = ptr.To(w) }
}

// ServiceRef has each Prod's endpoint be the load balancer of its Service name (of type
// LoadBalancer: the cloud controller manager gives it an Octavia load balancer).
func ServiceRef(name string) SetOption {
	return func(s *droverv1.ProdSet) {
		s.Spec.Template.Spec.Traffic.ServiceRef = &droverv1.LocalObjectReference{Name: name}
	}
}

// Mirrored mirrors each Prod's Octavia load balancer to an NLB, read every pollInterval
// (0: drover's default).
func Mirrored(pollInterval time.Duration) SetOption {
	return func(s *droverv1.ProdSet) {
		m := &droverv1.NLBMirror{}
		if pollInterval > 0 {
			m.PollInterval = &metav1.Duration{Duration: pollInterval}
		}
		s.Spec.Template.Spec.Traffic.Mirror = m
	}
}

// Policy has the set follow the RolloutPolicy name.
func Policy(name string) SetOption {
	return func(s *droverv1.ProdSet) { s.Spec.RolloutPolicyRef = &droverv1.LocalObjectReference{Name: name} }
}

// Records publishes the set's weights in the hosted zone, under recordName, with a TTL
// of ttl seconds.
func Records(zone, recordName string, ttl int32) SetOption {
	return func(s *droverv1.ProdSet) {
		t := setTraffic(s)
		t.HostedZoneID, t.RecordName, t.TTL = zone, recordName, ttl
	}
}

// HealthCheck has DNS check each Prod's paths with an HTTP GET of path on port.
func HealthCheck(port int32, path string) SetOption {
	return func(s *droverv1.ProdSet) {
		setTraffic(s).HealthCheck = &droverv1.HealthCheck{Protocol: "HTTP", Port: port, Path: path}
	}
}

// setTraffic is the set's spec.traffic, made if it has none.
func setTraffic(s *droverv1.ProdSet) *droverv1.ProdSetTraffic {
	if s.Spec.Traffic == nil {
		s.Spec.Traffic = &droverv1.ProdSetTraffic{}
	}
	return s.Spec.Traffic
}

// Mutate applies a change of the test's own.
func Mutate(f func(*droverv1.ProdSet)) SetOption {
	return func(s *droverv1.ProdSet) {
		if f != nil {
			f(s)
		}
	}
}

// ProdOption changes a Prod being built.
type ProdOption func(*droverv1.Prod)

// Prod is a Prod in namespace (named by generateName "shop-") on cluster, at version
// v1, applying objects into targetNamespace; options change it.
func Prod(namespace, cluster, targetNamespace string, objects []Object, opts ...ProdOption) *droverv1.Prod {
	p := &droverv1.Prod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: "shop-"},
		Spec: droverv1.ProdSpec{
			ClusterRef: droverv1.ClusterReference{Name: cluster},
			ProdTemplateSpec: droverv1.ProdTemplateSpec{
				Version: "v1", TargetNamespace: targetNamespace, Manifests: Manifests(objects...),
			},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Named gives the Prod a name instead of a generated one.
func Named(name string) ProdOption {
	return func(p *droverv1.Prod) { p.GenerateName, p.Name = "", name }
}

// Traffic sets the Prod's spec.traffic: its weight, its endpoint, its mirror.
func Traffic(t droverv1.ProdTraffic) ProdOption {
	return func(p *droverv1.Prod) { p.Spec.Traffic = t }
}

// RolloutPolicy is the RolloutPolicy namespace/name with spec.
func RolloutPolicy(namespace, name string, spec droverv1.RolloutPolicySpec) *droverv1.RolloutPolicy {
	return &droverv1.RolloutPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: spec}
}

// Maintenance is the ClusterMaintenance namespace/name of cluster, with reason "test",
// surging replacements elsewhere when surge is set.
func Maintenance(namespace, name, cluster string, surge bool) *droverv1.ClusterMaintenance {
	return &droverv1.ClusterMaintenance{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       droverv1.ClusterMaintenanceSpec{ClusterName: cluster, Surge: surge, Reason: "test"},
	}
}

// LoadBalancer gives the template's Prods an Octavia load balancer, an endpoint that
// their Route53 records point at: the id UUID(name).
func LoadBalancer(name string) SetOption {
	return func(s *droverv1.ProdSet) { s.Spec.Template.Spec.Traffic.LoadBalancerID = UUID(name) }
}

// UUID is a lowercase UUID (version 5 layout) derived from name, the same for the same
// name: an Octavia load balancer id that spec.traffic.loadBalancerID admits.
func UUID(name string) string {
	h := sha1.Sum([]byte(name)) //nolint:gosec // a name-based test id (as UUID version 5), not a secret
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// TenantIdentity is what a workload cluster holds for a Tenant's identity: the
// namespace saNamespace, the ServiceAccount sa in it, and a ClusterRole "tenant-<sa>"
// bound to it that lets it manage ConfigMaps only (in every namespace): the workload
// cluster's own RBAC, which refuses the identity every other kind.
func TenantIdentity(saNamespace, sa string) []client.Object {
	return []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: saNamespace}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: saNamespace, Name: sa}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "tenant-" + sa}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "create", "patch", "update", "delete"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "tenant-" + sa},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "tenant-" + sa},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: saNamespace, Name: sa}}},
	}
}
