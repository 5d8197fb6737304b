package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TenantLabel on a control-plane Namespace names the Tenant its Prods belong to. Only
// someone who may update Namespaces (the platform team) can set it; a namespace without it
// gets the defaults (see Tenant).
const TenantLabel = "drover.dev/tenant"

// NamePattern is a name, a prefix followed by "*" ("shop-*"), or "*" alone (any name).
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:Pattern=`^(\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?|[a-z0-9][-a-z0-9.]*\*)$`
type NamePattern string

// TenantClusterRule lets a tenant's Prods run on Clusters of another control-plane
// namespace (typically the namespace where the platform team registers its fleet).
type TenantClusterRule struct {
	// namespace of the Clusters on the control plane.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`

	// names of the Clusters, or patterns. Empty: any name.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	Names []NamePattern `json:"names,omitempty"`

	// selector the Clusters' labels must match as well. Unset: any labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// GroupKind names a kind of object, "*" for any kind of the group. The core group is "".
type GroupKind struct {
	// group of the kind, as in the apiVersion before the "/" ("apps" for apps/v1,
	// "rbac.authorization.k8s.io"); empty or left out for the core group (apiVersion v1:
	// ConfigMap, Service, ...). A group is never "core", a version ("v1") or holds "/":
	// those would match no object, so the API refuses them.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self != 'core' && !self.matches('^v[0-9]+((alpha|beta)[0-9]+)?$')",message="the core group (apiVersion v1: ConfigMap, Service, Secret, ...) is the empty group: write group: \"\" or leave group out, not core or a version such as v1"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/')",message="a group has no version and no \"/\": write the part of the apiVersion before the \"/\" (apps for apps/v1), or an empty group for apiVersion v1"
	// +kubebuilder:validation:XValidation:rule="self.contains('/') || self == '' || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="a group is a lowercase DNS name such as apps or rbac.authorization.k8s.io, or empty for the core group"
	Group string `json:"group,omitempty"`
	// kind, as in the manifests ("Deployment"), or "*" for every kind of the group.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^(\*|[A-Z][A-Za-z0-9]*)$`
	Kind string `json:"kind"`
}

// TenantKinds says which kinds a tenant's manifests may hold.
type TenantKinds struct {
	// namespacedAllowed are the namespaced kinds the tenant may apply. Empty: every
	// namespaced kind.
	// +optional
	// +kubebuilder:validation:MaxItems=128
	// +listType=atomic
	NamespacedAllowed []GroupKind `json:"namespacedAllowed,omitempty"`
	// namespacedDenied are namespaced kinds the tenant may not apply, even if allowed above.
	// +optional
	// +kubebuilder:validation:MaxItems=128
	// +listType=atomic
	NamespacedDenied []GroupKind `json:"namespacedDenied,omitempty"`
	// clusterScopedAllowed are the cluster-scoped kinds the tenant may apply. Empty: none.
	// Namespace is never among them (drover creates the target namespace itself).
	// +optional
	// +kubebuilder:validation:MaxItems=128
	// +listType=atomic
	// +kubebuilder:validation:XValidation:rule="self.all(k, !((!has(k.group) || k.group == '') && (k.kind == 'Namespace' || k.kind == '*')))",message="Namespace cannot be allowed: drover creates and marks each target namespace itself"
	ClusterScopedAllowed []GroupKind `json:"clusterScopedAllowed,omitempty"`
}

// TenantServiceAccount is the identity a tenant's objects are applied as on a workload
// cluster: drover impersonates it, so the workload cluster's RBAC bounds what a Prod can do.
type TenantServiceAccount struct {
	// namespace of the ServiceAccount on every workload cluster.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`
	// name of the ServiceAccount.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
}

// TenantHostedZone is a Route53 hosted zone a tenant's ProdSets may publish in.
type TenantHostedZone struct {
	// id of the hosted zone.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[A-Z0-9]+$`
	ID string `json:"id"`
	// recordNames the tenant may use in it: a name ("shop.example.com") or a suffix
	// pattern ("*.shop.example.com"). Empty: none.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?\.?$`
	// +listType=set
	RecordNames []string `json:"recordNames,omitempty"`
}

// TenantSpec is what the Prods of the tenant's control-plane namespaces may reach.
type TenantSpec struct {
	// clusters the tenant's Prods may run on besides those of the Prod's own namespace
	// (which are always allowed). Empty: only those.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	Clusters []TenantClusterRule `json:"clusters,omitempty"`

	// targetNamespaces the tenant's Prods may apply into on workload clusters: names or
	// patterns. Empty: any name, as long as the namespace is the tenant's (created by
	// drover for it, or handed over; see docs/security.md). A namespace that exists and is
	// not the tenant's is refused whatever this says.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	TargetNamespaces []NamePattern `json:"targetNamespaces,omitempty"`

	// kinds the tenant's manifests may hold. Unset: namespaced kinds only, any of them.
	// +optional
	Kinds TenantKinds `json:"kinds,omitempty,omitzero"`

	// serviceAccount the tenant's objects are applied as on every workload cluster.
	// Unset: drover's own identity, bounded by drover's checks only.
	// +optional
	ServiceAccount *TenantServiceAccount `json:"serviceAccount,omitempty"`

	// hostedZones the tenant's ProdSets may publish records in, with the record names
	// allowed in each. Empty: none. A zone a Tenant lists is closed to namespaces without
	// a Tenant. Which one set of those allowed holds a name is first come, first served.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=id
	HostedZones []TenantHostedZone `json:"hostedZones,omitempty"`

	// octaviaProjects are the OpenStack projects (ids, as Octavia's project_id) whose load
	// balancers the tenant's Prods may read and mirror to an NLB. Empty: none; a Prod
	// naming a load balancer of any other project gets MirrorSynced=False, reason
	// NotPermitted, and nothing is created in AWS nor written to its status.endpoint.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=64
	// +listType=set
	OctaviaProjects []string `json:"octaviaProjects,omitempty"`

	// gateURLPrefixes are the URL prefixes the httpCheck URLs and Prometheus addresses of
	// the tenant's RolloutPolicies must start with ("https://checks.shop.example.com/"),
	// character for character, after {{ .Host }} and the like are substituted. Empty: any
	// URL, as long as the address it connects to passes gateNetworks. See docs/security.md.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^https?://[^/?#@]+/`
	// +listType=set
	GateURLPrefixes []string `json:"gateURLPrefixes,omitempty"`

	// gateNetworks are the networks (CIDRs, such as "10.20.0.0/16") the tenant's gates may
	// connect to, checked against the address each connection is made to. Empty: public
	// addresses only (no private, loopback, link-local or cloud metadata address).
	// Loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10), unspecified
	// (0.0.0.0/8, ::) and cloud metadata addresses (169.254.169.254, fd00:ec2::254,
	// 100.100.100.200, ...) are allowed only by a CIDR that lies within that range:
	// "127.0.0.0/8" allows loopback, "0.0.0.0/0" does not; a metadata address needs its
	// own /32 or /128.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c) && cidr(c) == cidr(c).masked())",message="each gateNetworks entry must be a CIDR with no bits set past its prefix length, such as 10.20.0.0/16 or fd00:1::/64"
	// +listType=set
	GateNetworks []string `json:"gateNetworks,omitempty"`
}

// Tenant says what the Prods of some control-plane namespaces may reach: which Clusters,
// which target namespaces there, which kinds, and as which identity they are applied. A
// namespace joins a tenant by the label drover.dev/tenant=<tenant name>, which only the
// platform team can set. A namespace without the label gets the defaults: its Prods may
// run on its own Clusters only, apply namespaced kinds only, into a target namespace that
// is theirs. Cluster-scoped: app teams cannot write it.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=drover
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="a Tenant's name is a label value (drover.dev/tenant): at most 63 characters"
// +kubebuilder:printcolumn:name="Identity",type=string,JSONPath=`.spec.serviceAccount.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Tenant struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the tenant's Prods may reach.
	// +required
	Spec TenantSpec `json:"spec"`
}

// TenantList is a list of Tenants.
// +kubebuilder:object:root=true
type TenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Tenant `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Tenant{}, &TenantList{})
}
