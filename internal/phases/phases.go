// Package phases runs one reconcile as a list of small named phases, the shape of Cluster
// API's machineset controller that drover's controllers share: each phase learns
// something into the reconcile's scope, and one that needs what an earlier phase could
// not learn returns at once.
package phases

import (
	"context"

	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/cluster-api/util"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Phase is one step of a reconcile over the scope S. Its error says what the phase was
// doing.
type Phase[S any] func(context.Context, S) (ctrl.Result, error)

// Run runs every phase in order and returns the soonest requeue and all errors.
func Run[S any](ctx context.Context, s S, phases ...Phase[S]) (ctrl.Result, error) {
	var res ctrl.Result
	var errs []error
	for _, p := range phases {
		r, err := p(ctx, s)
		if err != nil {
			errs = append(errs, err)
		}
		res = util.LowestNonZeroResult(res, r)
	}
	return res, kerrors.NewAggregate(errs)
}
