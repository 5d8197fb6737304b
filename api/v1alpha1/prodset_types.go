package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ProdTemplate is the template a ProdSet stamps its Prods from.
type ProdTemplate struct {
	// metadata: labels and annotations copied onto every Prod of the set.
	// +optional
	Metadata ProdTemplateMetadata `json:"metadata,omitempty,omitzero"`

	// spec of every Prod of the set, except the cluster, which placement chooses.
	// +required
	Spec ProdTemplateSpec `json:"spec"`
}

// ProdTemplateMetadata is the part of a Prod's metadata a template may set.
type ProdTemplateMetadata struct {
	// labels copied onto every Prod.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// annotations copied onto every Prod.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Placement decides which workload clusters a ProdSet's Prods run on.
// +kubebuilder:validation:XValidation:rule="!(has(self.minAvailable) && has(self.maxUnavailable))",message="set at most one of minAvailable and maxUnavailable"
type Placement struct {
	// clusterSelector selects the Cluster API Clusters (in the ProdSet's namespace) that
	// may host Prods. Empty selects every cluster.
	// +optional
	ClusterSelector LabelSelector `json:"clusterSelector,omitempty,omitzero"`

	// topologyKey is a Cluster label, such as topology.drover.dev/region or
	// topology.drover.dev/provider, whose values Prods are spread evenly across.
	// +optional
	// +kubebuilder:validation:MaxLength=317
	TopologyKey string `json:"topologyKey,omitempty"`

	// maxPerCluster is the most Prods of this set on one cluster. Defaults to 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	MaxPerCluster int32 `json:"maxPerCluster,omitempty"`

	// unreachableToleration is how long a cluster may be unreachable before its Prods are
	// replaced elsewhere. Their traffic is taken away at once. Defaults to 5m.
	// +optional
	UnreachableToleration *metav1.Duration `json:"unreachableToleration,omitempty"`

	// maxUnreachablePercent: when more than this share of the selected clusters is
	// unreachable at once, drover freezes the set (changes nothing, reports it), as the
	// control plane's own network is the likelier fault. Defaults to 50.
	// +optional
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxUnreachablePercent int32 `json:"maxUnreachablePercent,omitempty"`

	// minAvailable is how many Prods (a number, or a percentage of replicas, rounded up)
	// must serve at all times; drover refuses evictions and maintenance that would go below it.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[0-9]+%$')",message="must be a non-negative number or a percentage such as 50%"
	MinAvailable *intstr.IntOrString `json:"minAvailable,omitempty"`

	// maxUnavailable is how many Prods (a number, or a percentage of replicas, rounded up)
	// may be out of traffic at once; the alternative to minAvailable. When neither is set,
	// maxUnavailable is 1.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^[0-9]+%$')",message="must be a non-negative number or a percentage such as 25%"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

// ProdSetTraffic is the service-level DNS of a ProdSet.
type ProdSetTraffic struct {
	// hostedZoneID is the Route53 hosted zone the service's records live in.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	HostedZoneID string `json:"hostedZoneID"`

	// recordName is the service's DNS name, such as shop.example.com.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([a-zA-Z0-9_]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?\.?$`
	RecordName string `json:"recordName"`

	// ttl of the records in seconds; at most 60 as the records are health-checked.
	// Defaults to 30.
	// +optional
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=60
	TTL int32 `json:"ttl,omitempty"`

	// healthCheck is the Route53 health check of each path of each Prod.
	// +optional
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
}

// HealthCheck describes a Route53 health check.
type HealthCheck struct {
	// protocol: HTTP, HTTPS or TCP. Defaults to HTTP.
	// +optional
	// +kubebuilder:default=HTTP
	// +kubebuilder:validation:Enum=HTTP;HTTPS;TCP
	Protocol string `json:"protocol,omitempty"`
	// port checked. Defaults to 80.
	// +optional
	// +kubebuilder:default=80
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
	// path requested for HTTP and HTTPS checks. Defaults to /healthz.
	// +optional
	// +kubebuilder:default=/healthz
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^/`
	Path string `json:"path,omitempty"`
}

// ProdSetSpec is the desired state of a ProdSet.
// +kubebuilder:validation:XValidation:rule="!has(self.replicas) || self.replicas * size(self.template.spec.manifests) <= 5000",message="replicas times the template's manifests is at most 5000 workload objects per set; split the set"
type ProdSetSpec struct {
	// replicas is how many identical Prods to run. Defaults to 1.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Replicas *int32 `json:"replicas,omitempty"`

	// template is what each Prod looks like.
	// +required
	Template ProdTemplate `json:"template"`

	// placement decides which clusters the Prods land on.
	// +optional
	Placement Placement `json:"placement,omitempty,omitzero"`

	// rolloutPolicyRef names the RolloutPolicy (same namespace) that a new version follows.
	// Without one, every Prod is updated at once.
	// +optional
	RolloutPolicyRef *LocalObjectReference `json:"rolloutPolicyRef,omitempty"`

	// traffic is the service-level DNS of the set.
	// +optional
	Traffic *ProdSetTraffic `json:"traffic,omitempty"`

	// safety are limits every weight move of the set keeps, whoever makes it (see
	// SafetyRules); a move that would break one is held until the
	// drover.dev/safety-override annotation lets it through.
	// +optional
	Safety *SafetyRules `json:"safety,omitempty"`

	// releaseHistoryLimit is how many Releases (records of the set's rollouts, see
	// kubectl drover history) the set keeps; the oldest beyond it are deleted when a
	// rollout starts. Defaults to 20.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	ReleaseHistoryLimit *int32 `json:"releaseHistoryLimit,omitempty"`
}

// DefaultReleaseHistoryLimit is spec.releaseHistoryLimit's default.
const DefaultReleaseHistoryLimit = 20

// ProdSummary is one Prod of a ProdSet at a glance.
type ProdSummary struct {
	// name of the Prod.
	Name string `json:"name"`
	// cluster the Prod runs on.
	Cluster string `json:"cluster"`
	// version the Prod runs.
	Version string `json:"version"`
	// revision of the set's template the Prod was made from.
	// +optional
	Revision string `json:"revision,omitempty"`
	// weight desired for the Prod now: the template's weight, or 0 while it is evicted.
	// +optional
	Weight *int32 `json:"weight,omitempty"`
	// evicted says why the Prod is out of traffic: ClusterUnreachable, ClusterMaintenance,
	// Superseded, Retiring or Deleting. Empty while it is in traffic.
	// +optional
	Evicted string `json:"evicted,omitempty"`
	// surgeFor is the cluster whose maintenance this Prod stands in for; it is removed when
	// that maintenance ends.
	// +optional
	SurgeFor string `json:"surgeFor,omitempty"`
	// publishedWeight is the weight confirmed in sync in DNS; unset while nothing is
	// published for the Prod.
	// +optional
	PublishedWeight *int32 `json:"publishedWeight,omitempty"`
	// publishedTime is when publishedWeight was confirmed in sync.
	// +optional
	PublishedTime *metav1.Time `json:"publishedTime,omitempty"`
	// pendingWeight is the weight of a DNS change submitted and not yet in sync.
	// +optional
	PendingWeight *int32 `json:"pendingWeight,omitempty"`
	// publishedPaths identifies the Prod's path records (Octavia VIP and NLB, their
	// weights and health checks) confirmed in sync in DNS.
	// +optional
	PublishedPaths string `json:"publishedPaths,omitempty"`
	// pendingPaths identifies the path records of the DNS change in flight.
	// +optional
	PendingPaths string `json:"pendingPaths,omitempty"`
	// drained is true when no traffic reaches the Prod: weight 0 in sync for one TTL, or
	// nothing published at all.
	// +optional
	Drained bool `json:"drained,omitempty"`
	// available mirrors the Prod's Available condition.
	// +optional
	Available metav1.ConditionStatus `json:"available,omitempty"`
	// reachable mirrors the Prod's ClusterReachable condition.
	// +optional
	Reachable metav1.ConditionStatus `json:"reachable,omitempty"`
	// held names the safety rule (spec.safety) that keeps the Prod's weight in DNS where
	// it is rather than at weight; the SafetyRulesKept condition says how.
	// +optional
	// +kubebuilder:validation:MaxLength=400
	Held string `json:"held,omitempty"`
}

// DNSWeight is the weight DNS has for the Prod's record, or will have once the change
// in flight is in sync; 0 when it has none. A nil summary has none.
func (s *ProdSummary) DNSWeight() int32 {
	switch {
	case s == nil:
		return 0
	case s.PendingWeight != nil:
		return *s.PendingWeight
	case s.PublishedWeight != nil:
		return *s.PublishedWeight
	}
	return 0
}

// ProdSetTrafficStatus is the state of the set's service-level DNS records.
type ProdSetTrafficStatus struct {
	// changeID of the DNS change in flight; empty when none is.
	// +optional
	ChangeID string `json:"changeID,omitempty"`
	// submittedTime is when the change in flight was submitted.
	// +optional
	SubmittedTime *metav1.Time `json:"submittedTime,omitempty"`
	// removing lists the Prods whose records the change in flight deletes.
	// +optional
	// +listType=set
	Removing []string `json:"removing,omitempty"`
	// lastSyncedTime is when the last change was confirmed in sync.
	// +optional
	LastSyncedTime *metav1.Time `json:"lastSyncedTime,omitempty"`
	// claimedName is the record name the set holds in its hosted zone, as
	// "<hostedZoneID>/<name>": no other ProdSet, in any namespace, publishes under it
	// while the set holds it. Empty while the set holds none (TrafficReady says why).
	// +optional
	// +kubebuilder:validation:MaxLength=320
	ClaimedName string `json:"claimedName,omitempty"`
	// refusedTime is when DNS last refused the set's records (TrafficReady says why):
	// they are published again a minute after it, or at once when the spec changes.
	// +optional
	RefusedTime *metav1.Time `json:"refusedTime,omitempty"`
	// handoffs are the ClusterMaintenances that handed weights of this set to DNS
	// themselves, by UID, and whether a change of the set confirmed them in sync since:
	// until then, the set checks its records against DNS rather than trusting its status.
	// +optional
	// +listType=map
	// +listMapKey=maintenance
	// +kubebuilder:validation:MaxItems=256
	Handoffs []TrafficHandoff `json:"handoffs,omitempty"`
}

// TrafficHandoff is a ClusterMaintenance's hand-off as a ProdSet took it.
type TrafficHandoff struct {
	// maintenance is the ClusterMaintenance's UID.
	// +kubebuilder:validation:MaxLength=64
	Maintenance string `json:"maintenance"`
	// confirmed: a change of the set that carried the hand-off's weights, or all of the
	// set's weights after it, is in sync.
	Confirmed bool `json:"confirmed"`
}

// ProdSetStatus is the observed state of a ProdSet.
type ProdSetStatus struct {
	// conditions of the set: Placed, Available, Frozen and TrafficReady.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// replicas is the number of Prods that exist, surge and retiring ones included.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// readyReplicas is the number of Prods applied on a reachable cluster.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// availableReplicas is the number of Prods whose Available condition is True.
	// +optional
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`
	// servingReplicas is the number of available Prods in traffic (not evicted).
	// +optional
	ServingReplicas int32 `json:"servingReplicas,omitempty"`
	// minServing is the serving minimum that minAvailable or maxUnavailable resolve to.
	// +optional
	MinServing int32 `json:"minServing,omitempty"`
	// currentRevision is the hash of the template the set is rolling towards.
	// +optional
	CurrentRevision string `json:"currentRevision,omitempty"`
	// previousRevision is the hash of the template before it.
	// +optional
	PreviousRevision string `json:"previousRevision,omitempty"`
	// traffic is the state of the set's DNS records.
	// +optional
	Traffic *ProdSetTrafficStatus `json:"traffic,omitempty"`
	// safety is what the set's safety rules hold, or let through under an override;
	// absent when they hold nothing.
	// +optional
	Safety *SafetyStatus `json:"safety,omitempty"`
	// rollout is the state of the current or last rollout through the set's RolloutPolicy.
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`
	// rolloutHistory lists the last finished or superseded rollouts, newest first (at most 10).
	// +optional
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	RolloutHistory []RolloutRecord `json:"rolloutHistory,omitempty"`
	// observedRolloutCommand is the last drover.dev/rollout-command value acted on.
	// +optional
	ObservedRolloutCommand string `json:"observedRolloutCommand,omitempty"`
	// prods summarises every Prod of the set, one entry per Prod name. Only drover
	// writes it, always whole: it is atomic, not a map keyed by name, because the API
	// server's tracking of managed fields per entry of a map made every status write of
	// a large set more than twice as slow.
	// +optional
	// +listType=atomic
	Prods []ProdSummary `json:"prods,omitempty"`
}

// ProdSet keeps a number of identical Prods across workload clusters.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas
// +kubebuilder:resource:categories=drover
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.availableReplicas`
// +kubebuilder:printcolumn:name="Serving",type=integer,JSONPath=`.status.servingReplicas`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.template.spec.version`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.rolloutPolicyRef.name`
// +kubebuilder:printcolumn:name="Rollout",type=string,JSONPath=`.status.rollout.phase`
// +kubebuilder:printcolumn:name="Step",type=string,JSONPath=`.status.rollout.stepName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ProdSet struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the ProdSet.
	// +required
	Spec ProdSetSpec `json:"spec"`

	// status is the observed state of the ProdSet.
	// +optional
	Status ProdSetStatus `json:"status,omitempty,omitzero"`
}

// ProdSetList is a list of ProdSets.
// +kubebuilder:object:root=true
type ProdSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProdSet `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &ProdSet{}, &ProdSetList{})
}

// GetConditions returns the ProdSet's conditions.
func (s *ProdSet) GetConditions() []metav1.Condition { return s.Status.Conditions }

// SetConditions sets the ProdSet's conditions.
func (s *ProdSet) SetConditions(c []metav1.Condition) { s.Status.Conditions = c }
