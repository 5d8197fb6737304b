// Package phases runs one reconcile as a list of small phases, the shape of Cluster
// API's controllers: each phase does one thing with what the ones before it learned
// (kept in the reconcile's scope), says when it wants the object back and what failed.
package phases

import (
	"context"
	"fmt"

	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/cluster-api/util"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Phase is one step of a reconcile of scope S.
type Phase[S any] func(context.Context, S) (ctrl.Result, error)

// Run runs the phases in order and returns the soonest requeue and all errors. When done
// is not nil, it is asked after each phase: true ends the reconcile there.
func Run[S any](ctx context.Context, s S, phases []Phase[S], done func() bool) (ctrl.Result, error) {
	var res ctrl.Result
	var errs []error
	for _, p := range phases {
		r, err := p(ctx, s)
		if err != nil {
			errs = append(errs, err)
		}
		res = util.LowestNonZeroResult(res, r)
		if done != nil && done() {
			break
		}
	}
	return res, kerrors.NewAggregate(errs)
}

// WrapErr says which phase an error comes from: what it was doing.
func WrapErr[S any](what string, p Phase[S]) Phase[S] {
	return func(ctx context.Context, s S) (ctrl.Result, error) {
		res, err := p(ctx, s)
		if err != nil {
			err = fmt.Errorf("%s: %w", what, err)
		}
		return res, err
	}
}
