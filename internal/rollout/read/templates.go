// Package read reads what the rollout engine needs from the control plane: the analysis
// templates rollout.Resolve puts in place of the steps that use them.
package read

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/rollout"
)

// Lookup finds the AnalysisTemplates of namespace and the ClusterAnalysisTemplates
// through c (the manager's cache): a policy may use only its own namespace's.
func Lookup(ctx context.Context, c client.Reader, namespace string) rollout.Templates {
	return func(name string, cluster bool) (*droverv1.AnalysisTemplateSpec, bool, error) {
		var err error
		var spec droverv1.AnalysisTemplateSpec
		if cluster {
			t := &droverv1.ClusterAnalysisTemplate{}
			err = c.Get(ctx, client.ObjectKey{Name: name}, t)
			spec = t.Spec
		} else {
			t := &droverv1.AnalysisTemplate{}
			err = c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, t)
			spec = t.Spec
		}
		switch {
		case apierrors.IsNotFound(err):
			return nil, false, nil
		case err != nil:
			return nil, false, err
		}
		return &spec, true, nil
	}
}
