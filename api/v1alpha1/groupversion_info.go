// Package v1alpha1 contains the drover.dev/v1alpha1 API: Prod, ProdSet, RolloutPolicy and
// ClusterMaintenance.
//
// +kubebuilder:object:generate=true
// +groupName=drover.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of drover's API.
	GroupVersion = schema.GroupVersion{Group: "drover.dev", Version: "v1alpha1"}

	// schemeBuilder adds drover's types to a scheme.
	schemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds drover's types to a scheme.
	AddToScheme = schemeBuilder.AddToScheme

	// objectTypes are the API's types; each *_types.go file adds its own in init.
	objectTypes = []runtime.Object{}
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, objectTypes...)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
