package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ReleaseDiffSpec names the ProdSet to diff and, optionally, the template to diff it
// with. It cannot be changed: a diff is computed once.
type ReleaseDiffSpec struct {
	// prodSet is the name of the ProdSet (in the ReleaseDiff's namespace) whose Prods are
	// diffed.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ProdSet string `json:"prodSet"`

	// template is the candidate template, as the ProdSet's spec.template would hold it.
	// Unset: the ProdSet's current spec.template (what its Prods would become once the
	// rollout of the current revision reaches them).
	// +optional
	Template *ProdTemplate `json:"template,omitempty"`
}

// ReleaseDiffAction is what applying the candidate would do to one workload object.
// +kubebuilder:validation:Enum=Create;Update;Unchanged;Delete;Refused
type ReleaseDiffAction string

const (
	// ReleaseDiffCreate: the object does not exist and would be created.
	ReleaseDiffCreate ReleaseDiffAction = "Create"
	// ReleaseDiffUpdate: the object exists and the apply would change it.
	ReleaseDiffUpdate ReleaseDiffAction = "Update"
	// ReleaseDiffUnchanged: the object exists and the apply would leave it as it is.
	ReleaseDiffUnchanged ReleaseDiffAction = "Unchanged"
	// ReleaseDiffDelete: the Prod's object is no longer in the manifests and would be
	// pruned.
	ReleaseDiffDelete ReleaseDiffAction = "Delete"
	// ReleaseDiffRefused: drover would not apply the object (reason says why); nothing of
	// it is shown. As with a Prod, one refused object holds the Prod's whole apply: the
	// other objects show what would happen once it is resolved.
	ReleaseDiffRefused ReleaseDiffAction = "Refused"
)

// ReleaseDiffObject is what the candidate would do to one object of a Prod.
type ReleaseDiffObject struct {
	// apiVersion of the object.
	// +required
	APIVersion string `json:"apiVersion"`
	// kind of the object.
	// +required
	Kind string `json:"kind"`
	// namespace of the object; empty for a cluster-scoped one.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// name of the object.
	// +required
	Name string `json:"name"`
	// action the candidate would take.
	// +required
	Action ReleaseDiffAction `json:"action"`
	// reason of a Refused action (NotOwned, OwnershipConflict, NotPermitted, Invalid,
	// Forbidden), or of an Update the server could not preview.
	// +optional
	Reason string `json:"reason,omitempty"`
	// message explains reason.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// diff is the unified diff of the object's YAML, live (---) against the server's
	// dry-run result (+++), without managedFields, resourceVersion, generation, uid,
	// creationTimestamp and status, Secret values shown only as <changed> or <unchanged>.
	// Cut at 8 KiB (diffTruncated).
	// +optional
	Diff string `json:"diff,omitempty"`
	// diffTruncated says the diff was cut.
	// +optional
	DiffTruncated bool `json:"diffTruncated,omitempty"`
}

// ReleaseDiffProd is what the candidate would change on one Prod's workload cluster.
type ReleaseDiffProd struct {
	// name of the Prod.
	// +required
	Name string `json:"name"`
	// cluster the Prod runs on (the name of its Cluster API Cluster).
	// +required
	Cluster string `json:"cluster"`
	// revision the Prod runs now.
	// +optional
	Revision string `json:"revision,omitempty"`
	// message says why the Prod could not be diffed (its cluster cannot be reached, its
	// tenancy refuses the candidate); its objects are then not listed.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// objects the candidate would create, change, leave or delete.
	// +optional
	// +listType=atomic
	Objects []ReleaseDiffObject `json:"objects,omitempty"`
}

// ReleaseDiffStatus is the computed diff.
type ReleaseDiffStatus struct {
	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready (True once the diff is complete), Reconciling while it is
	// computed, Stalled when it cannot be (no such ProdSet, an invalid candidate).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// completedTime is when the diff was complete. The manager deletes the ReleaseDiff
	// some minutes later.
	// +optional
	CompletedTime *metav1.Time `json:"completedTime,omitempty"`
	// revision of the candidate, as the ProdSet controller names it (the Prods'
	// drover.dev/revision label once rolled out).
	// +optional
	Revision string `json:"revision,omitempty"`
	// changes is true when any object would be created, updated or deleted, or refused.
	// +optional
	Changes bool `json:"changes,omitempty"`
	// prods: the diff of each Prod of the set.
	// +optional
	// +listType=atomic
	Prods []ReleaseDiffProd `json:"prods,omitempty"`
	// truncated says that diffs or objects were left out to keep the status small.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
}

// ReleaseDiff asks the manager what a new revision of a ProdSet would change on its
// workload clusters: for each Prod, each object is applied with the API server's
// server-side dry-run, as the Prod's identity and under drover's ownership rules, and
// compared with the live object. Nothing is written to a workload cluster. The manager
// deletes a ReleaseDiff some minutes after it completed.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=drover
// +kubebuilder:printcolumn:name="ProdSet",type=string,JSONPath=`.spec.prodSet`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`
// +kubebuilder:printcolumn:name="Changes",type=boolean,JSONPath=`.status.changes`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ReleaseDiff struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the diff; immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable: create another ReleaseDiff"
	Spec ReleaseDiffSpec `json:"spec"`
	// status is the diff, once computed.
	// +optional
	Status ReleaseDiffStatus `json:"status,omitempty,omitzero"`
}

// GetConditions returns the conditions (Cluster API's conditions helpers).
func (d *ReleaseDiff) GetConditions() []metav1.Condition { return d.Status.Conditions }

// SetConditions sets the conditions.
func (d *ReleaseDiff) SetConditions(c []metav1.Condition) { d.Status.Conditions = c }

// ReleaseDiffList is a list of ReleaseDiffs.
// +kubebuilder:object:root=true
type ReleaseDiffList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReleaseDiff `json:"items"`
}

// Reasons of a ReleaseDiff's Ready, Reconciling and Stalled conditions.
const (
	// ReleaseDiffComputingReason: the diff is being computed.
	ReleaseDiffComputingReason = "Computing"
	// ReleaseDiffQueuedReason: too many diffs of the namespace are being computed; this
	// one waits its turn.
	ReleaseDiffQueuedReason = "Queued"
	// ReleaseDiffProdSetNotFoundReason: the ProdSet does not exist.
	ReleaseDiffProdSetNotFoundReason = "ProdSetNotFound"
)

// Reasons of a Refused object.
const (
	ReleaseDiffNotOwnedReason          = "NotOwned"
	ReleaseDiffOwnershipConflictReason = "OwnershipConflict"
	ReleaseDiffNotPermittedReason      = "NotPermitted"
	ReleaseDiffInvalidReason           = "Invalid"
	ReleaseDiffForbiddenReason         = "Forbidden"
)

func init() {
	objectTypes = append(objectTypes, &ReleaseDiff{}, &ReleaseDiffList{})
}
