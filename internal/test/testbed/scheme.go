package testbed

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

// NewScheme returns a scheme with the Kubernetes built-in types, apiextensions v1 and
// Cluster API's core v1beta2 types, plus whatever the given add functions register
// (e.g. drover's own API packages' AddToScheme).
func NewScheme(add ...func(*runtime.Scheme) error) (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	adders := append([]func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		apiextensionsv1.AddToScheme,
		clusterv1.AddToScheme,
	}, add...)
	for _, f := range adders {
		if err := f(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}
