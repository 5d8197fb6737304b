package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ReleaseOutcome is how a rollout ended.
// +kubebuilder:validation:Enum=Completed;RolledBack;Aborted;Superseded
type ReleaseOutcome string

const (
	// ReleaseCompleted: every Prod runs the new revision.
	ReleaseCompleted ReleaseOutcome = "Completed"
	// ReleaseRolledBack: a gate failed, a Prod missed its deadline, or someone asked for a
	// rollback, and traffic went back to the previous revision.
	ReleaseRolledBack ReleaseOutcome = "RolledBack"
	// ReleaseAborted: someone aborted the rollout; traffic went back to the previous
	// revision.
	ReleaseAborted ReleaseOutcome = "Aborted"
	// ReleaseSuperseded: a newer template replaced it before it finished.
	ReleaseSuperseded ReleaseOutcome = "Superseded"
)

// ReleaseLabel marks a Release with the revision it rolls out; the ProdSetNameLabel
// names its set.
const ReleaseLabel = "drover.dev/release-revision"

// Release is the durable record of one rollout of a ProdSet: who started it, each step
// with its Prods, their weights and the gates' verdicts, and how it ended. The ProdSet
// controller writes it as the rollout goes and keeps it afterwards; a set keeps its
// latest spec.releaseHistoryLimit Releases and they go with it. Nobody else writes
// Releases: people read them (kubectl drover history).
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=drover
// +kubebuilder:printcolumn:name="ProdSet",type=string,JSONPath=`.prodSet`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.revision`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.version`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.phase`
// +kubebuilder:printcolumn:name="Outcome",type=string,JSONPath=`.outcome`
// +kubebuilder:printcolumn:name="Started",type=date,JSONPath=`.startedTime`
type Release struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// prodSet rolled out (in the Release's namespace).
	// +kubebuilder:validation:MaxLength=253
	ProdSet string `json:"prodSet"`
	// revision rolled out: the hash of the set's template.
	// +kubebuilder:validation:MaxLength=63
	Revision string `json:"revision"`
	// previousRevision it replaced; a rollback returned there.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	PreviousRevision string `json:"previousRevision,omitempty"`
	// version of the template (spec.template.spec.version).
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Version string `json:"version,omitempty"`
	// policy is the RolloutPolicy the rollout followed.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Policy string `json:"policy,omitempty"`
	// startedBy is the field manager that last changed the set's template (kubectl,
	// kubectl-drover, argocd-controller, ...): a hint, as the client names itself; the API
	// server's audit log says which user.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	StartedBy string `json:"startedBy,omitempty"`
	// startedTime is when the rollout began.
	StartedTime metav1.Time `json:"startedTime"`
	// phase the rollout is in, or ended in.
	Phase RolloutPhase `json:"phase"`
	// message says what the rollout waits for, or why it paused or ended.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Message string `json:"message,omitempty"`
	// outcome, once the rollout ended: Completed, RolledBack, Aborted or Superseded.
	// +optional
	Outcome ReleaseOutcome `json:"outcome,omitempty"`
	// endedBy is the field manager that asked for the abort or rollback that ended it.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	EndedBy string `json:"endedBy,omitempty"`
	// finishedTime is when it ended.
	// +optional
	FinishedTime *metav1.Time `json:"finishedTime,omitempty"`
	// rollbackLatency is the time from the failure (or the command) to the rollback's
	// traffic change being submitted.
	// +optional
	RollbackLatency *metav1.Duration `json:"rollbackLatency,omitempty"`
	// steps reached, in order, the current one last.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=33
	Steps []ReleaseStep `json:"steps,omitempty"`
	// commands given to the rollout (pause, resume, promote, abort, rollback), the latest
	// 32.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Commands []ReleaseCommand `json:"commands,omitempty"`
}

// ReleaseStep is one step of a rollout as it happened.
type ReleaseStep struct {
	// index of the step in the policy.
	Index int32 `json:"index"`
	// name of the step.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
	// startedTime is when the step began.
	StartedTime metav1.Time `json:"startedTime"`
	// finishedTime is when it passed, or when the rollout left it.
	// +optional
	FinishedTime *metav1.Time `json:"finishedTime,omitempty"`
	// prods the step moved to the new revision, with the weight DNS gave each when the
	// step was last recorded (its end, for a finished step).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Prods []ReleaseProd `json:"prods,omitempty"`
	// gates' verdicts in the step, in order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Gates []GateOutcome `json:"gates,omitempty"`
}

// ReleaseProd is a Prod a step moved.
type ReleaseProd struct {
	// name of the Prod.
	Name string `json:"name"`
	// cluster the Prod runs on, as namespace/name.
	// +optional
	Cluster string `json:"cluster,omitempty"`
	// weight DNS gave it (its replacement, under the Replace strategy) when the step
	// ended; absent while the step runs.
	// +optional
	Weight *int32 `json:"weight,omitempty"`
	// replacement made for it (Replace strategy).
	// +optional
	Replacement string `json:"replacement,omitempty"`
	// failed: it missed its step's progressDeadline, within the step's maxFailures.
	// +optional
	Failed bool `json:"failed,omitempty"`
}

// ReleaseCommand is a command given to a rollout, and who gave it.
type ReleaseCommand struct {
	// command: pause, resume, promote, abort or rollback.
	Command string `json:"command"`
	// by is the field manager that set the command annotation (a hint; see startedBy).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	By string `json:"by,omitempty"`
	// id is the annotation's value, which makes the command unique.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	ID string `json:"id,omitempty"`
	// time drover read it.
	Time metav1.Time `json:"time"`
	// step the rollout was at.
	Step int32 `json:"step"`
}

// ReleaseList is a list of Releases.
// +kubebuilder:object:root=true
type ReleaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Release `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Release{}, &ReleaseList{})
}
