package v1alpha1

// SafetyOverrideAnnotation, on a ProdSet, lets through the weight moves of that set its
// safety rules hold; on a ClusterMaintenance, it admits the drain whatever the safety
// rules of the sets on the cluster say. Its value is the reason (1 to 256 printable
// characters), which drover records in an event with every move it lets through and in
// the SafetyRulesKept condition, for as long as the annotation stays. An override with
// no reason, or one that cannot be read, is no override.
const SafetyOverrideAnnotation = "drover.dev/safety-override"

// SafetyRules are limits every weight move of a ProdSet keeps, whoever makes it: a
// rollout step, a rollback, a retirement, a Prod going unavailable, or its cluster going
// unreachable. A move that would break a rule, or break further one already broken, is
// held: DNS keeps what it has for the Prod, and the set's SafetyRulesKept condition
// names the rule. Moves that keep the rules go on. A drain's evictions are judged when
// the ClusterMaintenance is admitted (it is refused while they would break a rule), and
// the deletion of the whole set is never held. The rules are about the weights DNS
// publishes; Route53's health checks still take a failing path out.
// +kubebuilder:validation:XValidation:rule="has(self.maxSharePercent) || has(self.maxOut) || has(self.minServingPerTopology)",message="set at least one rule"
type SafetyRules struct {
	// maxSharePercent is the most of the service's weight any one Prod may carry, in
	// percent of the weights the set publishes. A service that serves nothing may start
	// serving on one Prod; from then on no move raises the largest share above it.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxSharePercent *int32 `json:"maxSharePercent,omitempty"`

	// maxOut is the most replicas out of traffic at once: spec.replicas minus the Prods
	// DNS gives traffic (a Prod beside one it replaces counts, so a Replace rollout or a
	// surge stand-in lets an old Prod go without taking a replica out). 0 allows no move
	// that leaves fewer serving Prods than replicas.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	MaxOut *int32 `json:"maxOut,omitempty"`

	// minServingPerTopology keeps, for each value of a Cluster label (a region, say), at
	// least minServing of the set's Prods on clusters with that value in traffic. Prods
	// on clusters without the label form a group of their own.
	// +optional
	// +listType=map
	// +listMapKey=topologyKey
	// +kubebuilder:validation:MaxItems=4
	MinServingPerTopology []TopologyMinimum `json:"minServingPerTopology,omitempty"`
}

// TopologyMinimum is a serving minimum per value of a Cluster label.
type TopologyMinimum struct {
	// topologyKey is the Cluster label, such as topology.kubernetes.io/region.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	TopologyKey string `json:"topologyKey"`

	// minServing is how many of the set's Prods with each value of the label stay in
	// traffic.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MinServing int32 `json:"minServing"`
}

// HeldMove is a weight move of a Prod that a safety rule holds.
type HeldMove struct {
	// prod is the Prod's name.
	// +kubebuilder:validation:MaxLength=253
	Prod string `json:"prod"`
	// rule is the rule that holds it: maxSharePercent, maxOut or
	// minServingPerTopology/<topologyKey>.
	// +kubebuilder:validation:MaxLength=400
	Rule string `json:"rule"`
	// weight is the weight the set would publish for the Prod without the rule; DNS
	// keeps the one it has.
	Weight int32 `json:"weight"`
}

// SafetyStatus is what the set's safety rules hold, or let through under an override.
type SafetyStatus struct {
	// held lists the moves the rules hold, by Prod.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Held []HeldMove `json:"held,omitempty"`
	// overridden lists the moves the rules would hold that the drover.dev/safety-override
	// annotation let through in the last change.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Overridden []HeldMove `json:"overridden,omitempty"`
}
