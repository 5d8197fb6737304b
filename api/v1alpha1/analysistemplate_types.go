package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// AnalysisArg is an argument an analysis template declares.
type AnalysisArg struct {
	// name of the argument, used as {{ .Args.<name> }}.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`
	// value is the default; an argument without one must be given by every step that
	// uses the template.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Value *string `json:"value,omitempty"`
}

// AnalysisTemplateSpec is a gate written once, for many RolloutPolicies.
// +kubebuilder:validation:XValidation:rule="!has(self.gate.template) && !has(self.gate.pause) && !has(self.gate.approval)",message="a template's gate is an httpCheck, prometheus or baseline gate"
type AnalysisTemplateSpec struct {
	// args the gate takes. {{ .Args.<name> }} in the gate's url, queries and prometheus
	// threshold is replaced by the value a step gives, or the default here.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	Args []AnalysisArg `json:"args,omitempty"`
	// gate is the gate a step that uses the template runs.
	// +required
	Gate Gate `json:"gate"`
}

// AnalysisTemplate is a gate the RolloutPolicies of its namespace may use by name.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=drover
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AnalysisTemplate struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the template.
	// +required
	Spec AnalysisTemplateSpec `json:"spec"`
}

// AnalysisTemplateList is a list of AnalysisTemplates.
// +kubebuilder:object:root=true
type AnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AnalysisTemplate `json:"items"`
}

// ClusterAnalysisTemplate is a gate every RolloutPolicy of the installation may use by
// name; the platform team writes it.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=drover
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterAnalysisTemplate struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the template.
	// +required
	Spec AnalysisTemplateSpec `json:"spec"`
}

// ClusterAnalysisTemplateList is a list of ClusterAnalysisTemplates.
// +kubebuilder:object:root=true
type ClusterAnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterAnalysisTemplate `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &AnalysisTemplate{}, &AnalysisTemplateList{}, &ClusterAnalysisTemplate{}, &ClusterAnalysisTemplateList{})
}
