package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// FreezeWindow is a recurring time during which a freeze holds.
type FreezeWindow struct {
	// schedule of the window's starts, in cron's five fields (minute hour day-of-month
	// month day-of-week), such as "0 17 * * 5" for Fridays at 17:00.
	// +required
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=128
	Schedule string `json:"schedule"`
	// duration of each window, from 1m to 7 days (168h).
	// +required
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('168h')",message="duration must be from 1m to 168h"
	Duration metav1.Duration `json:"duration"`
	// timeZone the schedule is read in, an IANA name such as "Europe/Berlin". Defaults
	// to UTC.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`
}

// FreezeTime is when a freeze holds: between start and end, and, with windows, only
// inside one of them. With neither, from its creation until it is deleted.
// +kubebuilder:validation:XValidation:rule="!has(self.start) || !has(self.end) || self.start < self.end",message="start must be before end"
type FreezeTime struct {
	// reason of the freeze, shown wherever a rollout waits for it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Reason string `json:"reason"`
	// start of the freeze. Unset: from its creation.
	// +optional
	Start *metav1.Time `json:"start,omitempty"`
	// end of the freeze. Unset: until it is deleted.
	// +optional
	End *metav1.Time `json:"end,omitempty"`
	// windows: recurring times in which the freeze holds, such as Friday evenings.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	Windows []FreezeWindow `json:"windows,omitempty"`
}

// FreezeSpec is a freeze of the rollouts of a namespace, or of some of its ProdSets.
type FreezeSpec struct {
	FreezeTime `json:",inline"`
	// prodSets frozen, by name. Empty: every ProdSet of the namespace.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	ProdSets []string `json:"prodSets,omitempty"`
}

// Freeze stops the line in its namespace: while it holds, no rollout of the ProdSets it
// names starts or advances. Rollbacks, aborts and evictions are never held.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=drover
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.spec.reason`
// +kubebuilder:printcolumn:name="Start",type=date,JSONPath=`.spec.start`
// +kubebuilder:printcolumn:name="End",type=date,JSONPath=`.spec.end`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Freeze struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the freeze.
	// +required
	Spec FreezeSpec `json:"spec"`
}

// FreezeList is a list of Freezes.
// +kubebuilder:object:root=true
type FreezeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Freeze `json:"items"`
}

// ClusterFreezeSpec is a freeze of the installation's rollouts: every namespace, some,
// or only the Prods on some workload clusters.
type ClusterFreezeSpec struct {
	FreezeTime `json:",inline"`
	// namespaces frozen. Empty: every namespace.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`
	// clusters whose Prods no rollout moves, as namespace/name of their Cluster API
	// Cluster. Empty: the freeze holds whole rollouts, not only some clusters' Prods.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$`
	Clusters []string `json:"clusters,omitempty"`
}

// ClusterFreeze stops the line for the platform: while it holds, no rollout in the
// namespaces it names starts or advances, or, with clusters, no rollout moves a Prod on
// those clusters. Rollbacks, aborts and evictions are never held.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=drover
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.spec.reason`
// +kubebuilder:printcolumn:name="Start",type=date,JSONPath=`.spec.start`
// +kubebuilder:printcolumn:name="End",type=date,JSONPath=`.spec.end`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterFreeze struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the freeze.
	// +required
	Spec ClusterFreezeSpec `json:"spec"`
}

// ClusterFreezeList is a list of ClusterFreezes.
// +kubebuilder:object:root=true
type ClusterFreezeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterFreeze `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Freeze{}, &FreezeList{}, &ClusterFreeze{}, &ClusterFreezeList{})
}
