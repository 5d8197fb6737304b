package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// ClusterReference names a Cluster API Cluster.
type ClusterReference struct {
	// name of the Cluster API Cluster (cluster.x-k8s.io) the Prod runs on.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// namespace of the Cluster. Defaults to the Prod's own namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`
}

// ProdTemplateSpec is everything that describes a Prod except where it runs. A ProdSet
// stamps its Prods out of one of these.
//
// The rule below reads metadata.namespace of the embedded manifests, which CEL sees only
// because `make manifests` adds it to their schema (hack/crdmeta).
// +kubebuilder:validation:XValidation:rule="self.manifests.all(m, !has(m.metadata.__namespace__) || size(m.metadata.__namespace__) == 0 || m.metadata.__namespace__ == self.targetNamespace)",message="a manifest may not name a namespace other than spec.targetNamespace; leave metadata.namespace empty"
type ProdTemplateSpec struct {
	// version is the release this Prod runs: a free-form release id such as "v1.4.2" or a
	// git sha. Manifests may reference it as ${DROVER_VERSION} (for example in an image
	// tag); drover substitutes it before applying.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][-A-Za-z0-9_.+]*$`
	Version string `json:"version"`

	// targetNamespace is the namespace on the workload cluster that the Prod's namespaced
	// objects are applied into. drover creates it if it does not exist.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	TargetNamespace string `json:"targetNamespace"`

	// manifests are the Kubernetes objects that make up the environment, applied to the
	// workload cluster as a unit with server-side apply. Each needs apiVersion, kind and
	// metadata.name. Objects removed from this list are pruned from the workload cluster.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:XEmbeddedResource
	// +kubebuilder:validation:items:XPreserveUnknownFields
	// +kubebuilder:validation:items:XValidation:rule="has(self.metadata.name) && self.metadata.name != ''",message="every manifest needs metadata.name"
	// +listType=atomic
	Manifests []runtime.RawExtension `json:"manifests"`

	// traffic says how the Prod receives traffic.
	// +optional
	Traffic ProdTraffic `json:"traffic,omitempty,omitzero"`
}

// ProdSpec is the desired state of one production environment on one workload cluster.
type ProdSpec struct {
	// clusterRef is the Cluster API Cluster the Prod runs on. It cannot be changed: to
	// move an environment, create a new Prod (a ProdSet does that for you).
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="clusterRef is immutable; create a new Prod on the other cluster instead"
	ClusterRef ClusterReference `json:"clusterRef"`

	ProdTemplateSpec `json:",inline"`
}

// ProdTraffic is how one Prod takes part in the service's traffic.
// +kubebuilder:validation:XValidation:rule="!(has(self.serviceRef) && has(self.loadBalancerID))",message="set at most one of serviceRef and loadBalancerID"
// +kubebuilder:validation:XValidation:rule="!has(self.mirror) || has(self.serviceRef) || has(self.loadBalancerID)",message="a mirror copies the Prod's Octavia load balancer: set serviceRef or loadBalancerID too"
type ProdTraffic struct {
	// weight is the Route53 weight this Prod should get among the service's Prods, 0–255.
	// 0 takes it out of traffic (evicted). Defaults to 100.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	Weight *int32 `json:"weight,omitempty"`

	// serviceRef names the Service of type LoadBalancer in spec.targetNamespace on the
	// workload cluster that fronts the Prod; its Octavia load balancer id is read from the
	// annotation loadbalancer.openstack.org/load-balancer-id.
	// +optional
	ServiceRef *LocalObjectReference `json:"serviceRef,omitempty"`

	// loadBalancerID is an explicit OpenStack Octavia load balancer id, for a Prod whose
	// load balancer is not created by a workload Service: a UUID in lowercase
	// (8-4-4-4-12 hex digits), as Octavia writes it. It must be of an OpenStack project the
	// namespace's Tenant lists in spec.octaviaProjects, or the mirror is refused.
	// +optional
	// +kubebuilder:validation:MinLength=36
	// +kubebuilder:validation:MaxLength=36
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`
	LoadBalancerID string `json:"loadBalancerID,omitempty"`

	// mirror configures the AWS NLB that mirrors the Prod's Octavia load balancer.
	// Unset means no mirror.
	// +optional
	Mirror *NLBMirror `json:"mirror,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// NLBMirror configures the AWS Network Load Balancer kept in sync with a Prod's Octavia
// load balancer, and the split of the Prod's traffic between the two paths.
type NLBMirror struct {
	// enabled turns the mirror on. Defaults to true when mirror is set.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// octaviaWeight is the Route53 weight of the Octavia path of this Prod. Defaults to 90.
	// +optional
	// +kubebuilder:default=90
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	OctaviaWeight *int32 `json:"octaviaWeight,omitempty"`

	// nlbWeight is the Route53 weight of the NLB path of this Prod. Defaults to 10, so the
	// standby path always carries real traffic.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	NLBWeight *int32 `json:"nlbWeight,omitempty"`

	// pollInterval is how often Octavia is read and the NLB re-synced: between 1s and 1h,
	// and never more often than the manager's --mirror-poll-interval (its default, 30s),
	// which the Octavia and AWS rate limits of every tenant share.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('1h')",message="pollInterval must be between 1s and 1h"
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`

	// maxTargetRemovalPercent is the largest share of a target group's targets that one
	// sync may remove; a sync that would remove more stops and reports instead. Defaults to 50.
	// +optional
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxTargetRemovalPercent *int32 `json:"maxTargetRemovalPercent,omitempty"`

	// deregistrationDelaySeconds is the NLB target groups' deregistration delay. Defaults to 30.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	DeregistrationDelaySeconds *int32 `json:"deregistrationDelaySeconds,omitempty"`
}

// ObjectReference identifies one object drover applied to a workload cluster.
type ObjectReference struct {
	// group of the object's kind; empty for the core group.
	// +optional
	Group string `json:"group,omitempty"`
	// version of the object's kind.
	Version string `json:"version"`
	// kind of the object.
	Kind string `json:"kind"`
	// namespace of the object; empty for cluster-scoped objects.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// name of the object.
	Name string `json:"name"`
	// uid of the object when drover last applied it; empty until the object was applied
	// once. It says which object drover applied, not that the object is the Prod's:
	// each apply names the UID of the object drover has just found the Prod's, so an
	// object deleted and re-created by someone else in the meantime is not taken over.
	// +optional
	UID types.UID `json:"uid,omitempty"`
	// applied records drover's last apply of the object: a hash of the configuration it
	// applied, a hash of the fields its field manager owned on the workload cluster right
	// after, and the object's generation then, "<configuration>.<fields>.<generation>".
	// While the configuration to apply is the same and the live object, at that
	// generation or later, still shows drover's field manager owning the same fields
	// (another writer's change to one of them takes it over or removes it), the object is
	// not applied again; empty until the object was applied once.
	// +optional
	Applied string `json:"applied,omitempty"`
}

// ProdEndpoint is where a Prod can be reached.
type ProdEndpoint struct {
	// loadBalancerID is the Octavia load balancer id.
	// +optional
	LoadBalancerID string `json:"loadBalancerID,omitempty"`
	// vip is the Octavia load balancer's VIP address.
	// +optional
	VIP string `json:"vip,omitempty"`
	// nlbARN is the ARN of the mirroring AWS NLB.
	// +optional
	NLBARN string `json:"nlbARN,omitempty"`
	// nlbDNSName is the DNS name of the mirroring AWS NLB.
	// +optional
	NLBDNSName string `json:"nlbDNSName,omitempty"`
	// nlbZoneID is the NLB's canonical hosted zone, which the NLB path's alias record names.
	// +optional
	NLBZoneID string `json:"nlbZoneID,omitempty"`
	// octaviaStatus is the Octavia load balancer's operating status as last read (ONLINE,
	// DEGRADED, OFFLINE, ERROR, ...). ERROR and OFFLINE move the Prod's traffic to its NLB.
	// +optional
	OctaviaStatus string `json:"octaviaStatus,omitempty"`
}

// MirrorStatus is the state of a Prod's NLB mirror.
type MirrorStatus struct {
	// lastSyncTime is when the mirror last compared the Octavia load balancer with AWS
	// (while syncs keep finding the same, it is brought up to date every 5 minutes).
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// outcome of the last sync: InSync (nothing to change), Changed, Blocked (the target
	// removal guard held it), OctaviaUnavailable (Octavia could not be read completely;
	// nothing was changed), LoadBalancerNotFound, or Failed.
	// +optional
	Outcome string `json:"outcome,omitempty"`
	// message says what the last sync did or why it did not.
	// +optional
	Message string `json:"message,omitempty"`
	// targetGroups lists each NLB target group with the Octavia pool it mirrors.
	// +optional
	// +listType=atomic
	TargetGroups []MirrorTargetGroup `json:"targetGroups,omitempty"`
	// lastChangeTime is when a sync last changed something in AWS.
	// +optional
	LastChangeTime *metav1.Time `json:"lastChangeTime,omitempty"`
	// lastChange says what that sync changed.
	// +optional
	LastChange string `json:"lastChange,omitempty"`
	// driftCorrections counts the syncs that found the NLB differing from what an earlier
	// sync had made of the same Octavia picture (a change made by hand in AWS) and
	// corrected it.
	// +optional
	DriftCorrections int64 `json:"driftCorrections,omitempty"`
	// modelDigest identifies the NLB the last successful sync built from Octavia; a later
	// sync that builds the same one and still finds AWS differing has found drift.
	// +optional
	ModelDigest string `json:"modelDigest,omitempty"`
}

// MirrorTargetGroup is one target group of a Prod's NLB.
type MirrorTargetGroup struct {
	// pool is the id of the Octavia pool it mirrors.
	Pool string `json:"pool"`
	// arn of the target group.
	// +optional
	ARN string `json:"arn,omitempty"`
	// targets registered.
	Targets int32 `json:"targets"`
	// healthyTargets among them, as ELBv2 reports.
	// +optional
	HealthyTargets int32 `json:"healthyTargets,omitempty"`
}

// ProdStatus is the observed state of a Prod.
type ProdStatus struct {
	// conditions: ClusterReachable, Applied, Available and TrafficReady.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// cluster is the namespace/name of the Cluster the Prod runs on.
	// +optional
	Cluster string `json:"cluster,omitempty"`

	// appliedVersion is the spec.version last applied completely.
	// +optional
	AppliedVersion string `json:"appliedVersion,omitempty"`

	// inventory lists every object drover applied for this Prod and still owns on the
	// workload cluster; objects that leave spec.manifests are pruned from it.
	// +optional
	// +listType=atomic
	Inventory []ObjectReference `json:"inventory,omitempty"`

	// endpoint is where the Prod can be reached.
	// +optional
	Endpoint *ProdEndpoint `json:"endpoint,omitempty"`

	// publishedWeight is the weight actually published in DNS for this Prod; unset while
	// nothing is published.
	// +optional
	PublishedWeight *int32 `json:"publishedWeight,omitempty"`

	// mirror is the state of the Prod's AWS NLB mirror; unset without one.
	// +optional
	Mirror *MirrorStatus `json:"mirror,omitempty"`
}

// Prod is one complete production environment of an application on one workload cluster.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=drover
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterRef.name`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.spec.traffic.weight`
// +kubebuilder:printcolumn:name="Published",type=integer,JSONPath=`.status.publishedWeight`
// +kubebuilder:printcolumn:name="Reachable",type=string,JSONPath=`.status.conditions[?(@.type=="ClusterReachable")].status`
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Prod struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the Prod.
	// +required
	Spec ProdSpec `json:"spec"`

	// status is the observed state of the Prod.
	// +optional
	Status ProdStatus `json:"status,omitempty,omitzero"`
}

// ProdList is a list of Prods.
// +kubebuilder:object:root=true
type ProdList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Prod `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Prod{}, &ProdList{})
}

// GetConditions returns the Prod's conditions.
func (p *Prod) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions sets the Prod's conditions.
func (p *Prod) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }

// ClusterNamespace returns the namespace of the Prod's Cluster.
func (p *Prod) ClusterNamespace() string {
	if p.Spec.ClusterRef.Namespace != "" {
		return p.Spec.ClusterRef.Namespace
	}
	return p.Namespace
}

// DesiredWeight returns spec.traffic.weight with its default applied.
func (p *Prod) DesiredWeight() int32 {
	if p.Spec.Traffic.Weight == nil {
		return DefaultWeight
	}
	return *p.Spec.Traffic.Weight
}

// DefaultWeight is the weight of a Prod that does not say.
const DefaultWeight int32 = 100
