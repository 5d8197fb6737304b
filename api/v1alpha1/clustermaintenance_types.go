package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterMaintenanceSpec asks drover to take one workload cluster out of traffic.
type ClusterMaintenanceSpec struct {
	// clusterName is the Cluster API Cluster, in this namespace, to drain. It cannot be
	// changed.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="clusterName is immutable; create another ClusterMaintenance for another cluster"
	ClusterName string `json:"clusterName"`

	// surge places a replacement on another cluster for every Prod on this one, and waits
	// for the replacements to be available, before the cluster's Prods leave traffic. The
	// replacements are removed when this ClusterMaintenance is deleted. Without surge, a
	// drain that would leave some ProdSet below its serving minimum is refused.
	// +optional
	Surge bool `json:"surge,omitempty"`

	// reason is a note for people, such as "upgrade to v1.36"; shown by kubectl.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Reason string `json:"reason,omitempty"`
}

// MaintenancePhase is where a ClusterMaintenance is.
// +kubebuilder:validation:Enum=Pending;Refused;Surging;Draining;Drained;Restoring;Restored
type MaintenancePhase string

// MaintenanceCommandAnnotation on a ClusterMaintenance asks drover to restore the
// cluster (bring its Prods back into traffic while the object stays, as deleting it
// would) or to drain it again. The value is the command, optionally followed by "@" and
// anything that makes it unique: drover acts on each distinct value once and records it
// in status.observedCommand. It is how a GitOps tool (Argo CD's restore and drain
// actions) ends a maintenance whose object Git keeps.
const MaintenanceCommandAnnotation = "drover.dev/maintenance-command"

// Phases of a ClusterMaintenance.
const (
	// MaintenancePending: drover has not looked at it yet.
	MaintenancePending MaintenancePhase = "Pending"
	// MaintenanceRefused: draining now would leave some ProdSet below its serving
	// minimum. Nothing changed; drover checks again as things change.
	MaintenanceRefused MaintenancePhase = "Refused"
	// MaintenanceSurging: replacement Prods are being placed and made available elsewhere.
	MaintenanceSurging MaintenancePhase = "Surging"
	// MaintenanceDraining: the cluster's Prods are at weight 0; drover waits for DNS.
	MaintenanceDraining MaintenancePhase = "Draining"
	// MaintenanceDrained: no traffic reaches the cluster's Prods any more.
	MaintenanceDrained MaintenancePhase = "Drained"
	// MaintenanceRestoring: a restore command ended the maintenance; drover waits for
	// the cluster's Prods to be back in traffic.
	MaintenanceRestoring MaintenancePhase = "Restoring"
	// MaintenanceRestored: the cluster is back in traffic; the object stays, doing
	// nothing, until deleted or drained again by command.
	MaintenanceRestored MaintenancePhase = "Restored"
)

// MaintenanceProd is one Prod on the cluster under maintenance.
type MaintenanceProd struct {
	// name of the Prod.
	Name string `json:"name"`
	// prodSet the Prod belongs to; empty for a Prod of its own.
	// +optional
	ProdSet string `json:"prodSet,omitempty"`
	// publishedWeight is the weight in DNS as last confirmed; unset when nothing is
	// published for the Prod.
	// +optional
	PublishedWeight *int32 `json:"publishedWeight,omitempty"`
	// drained is true once no traffic reaches the Prod.
	Drained bool `json:"drained"`
}

// ClusterMaintenanceStatus is what drover did about a ClusterMaintenance.
type ClusterMaintenanceStatus struct {
	// conditions: Admitted (the drain was allowed to start) and Drained.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase: Pending, Refused, Surging, Draining or Drained.
	// +optional
	Phase MaintenancePhase `json:"phase,omitempty"`

	// admittedTime is when the drain started. Once admitted, a maintenance stays admitted
	// until it is deleted.
	// +optional
	AdmittedTime *metav1.Time `json:"admittedTime,omitempty"`

	// overridden says what the drover.dev/safety-override annotation let the drain
	// through, and why, when the serving minimum or the safety rules of ProdSets would
	// have refused it at its admission.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Overridden string `json:"overridden,omitempty"`

	// restoreTime is when a restore command ended the maintenance (the
	// drover.dev/maintenance-command annotation): while it is set, the maintenance takes
	// nothing out of traffic, as if deleted. A drain command clears it.
	// +optional
	RestoreTime *metav1.Time `json:"restoreTime,omitempty"`

	// observedCommand is the last drover.dev/maintenance-command value acted on.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	ObservedCommand string `json:"observedCommand,omitempty"`

	// drainedTime is when the last Prod on the cluster was confirmed drained.
	// +optional
	DrainedTime *metav1.Time `json:"drainedTime,omitempty"`

	// prods on the cluster and how far each is drained.
	// +optional
	// +listType=map
	// +listMapKey=name
	Prods []MaintenanceProd `json:"prods,omitempty"`

	// handoff records the weights 0 the maintenance handed to DNS itself when it was
	// admitted, for every ProdSet of the namespace at once, before each set caught up
	// in its own reconcile. It is written before anything is published, so that a
	// manager that restarts before every set caught up knows which sets to check against
	// DNS (docs/traffic.md, "A drain in one change").
	// +optional
	Handoff *MaintenanceHandoff `json:"handoff,omitempty"`
}

// MaintenanceHandoff is what a maintenance handed to DNS for the ProdSets at once.
type MaintenanceHandoff struct {
	// time the hand-off was decided.
	Time metav1.Time `json:"time"`
	// prodSets whose Prods on the cluster were handed over at weight 0.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=10000
	// +kubebuilder:validation:items:MaxLength=253
	ProdSets []string `json:"prodSets,omitempty"`
}

// ClusterMaintenance takes a workload cluster out of traffic for maintenance, such as an
// upgrade, and puts it back when deleted. drover refuses to drain when that would leave
// a ProdSet below its serving minimum, unless spec.surge places replacements first.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=drover,shortName=cm;maint
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Surge",type=boolean,JSONPath=`.spec.surge`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Drained")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterMaintenance struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says which cluster to drain and how.
	// +required
	Spec ClusterMaintenanceSpec `json:"spec"`

	// status is what drover did about it.
	// +optional
	Status ClusterMaintenanceStatus `json:"status,omitempty,omitzero"`
}

// ClusterMaintenanceList is a list of ClusterMaintenances.
// +kubebuilder:object:root=true
type ClusterMaintenanceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterMaintenance `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &ClusterMaintenance{}, &ClusterMaintenanceList{})
}

// GetConditions returns the ClusterMaintenance's conditions.
func (m *ClusterMaintenance) GetConditions() []metav1.Condition { return m.Status.Conditions }

// SetConditions sets the ClusterMaintenance's conditions.
func (m *ClusterMaintenance) SetConditions(c []metav1.Condition) { m.Status.Conditions = c }

// Admitted reports whether the drain has started: the cluster's Prods are out of traffic
// (or on their way out) until the ClusterMaintenance is deleted or restored.
func (m *ClusterMaintenance) Admitted() bool { return m.Status.AdmittedTime != nil }

// Ended reports whether the maintenance is over, deleted or restored by command: it
// takes nothing out of traffic any more.
func (m *ClusterMaintenance) Ended() bool {
	return !m.DeletionTimestamp.IsZero() || m.Status.RestoreTime != nil
}
