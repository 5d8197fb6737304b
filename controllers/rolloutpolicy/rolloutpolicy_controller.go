// Package rolloutpolicy reconciles RolloutPolicies: it checks what the API server's
// validation cannot (the gates' templates, thresholds, a Prometheus to ask) and says in
// the Accepted condition whether the policy can run, and which ProdSets follow it. The
// ProdSet controller runs the rollouts and holds a set whose policy is not accepted.
package rolloutpolicy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/patch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/rollout"
)

// ControllerName names the controller.
const ControllerName = "rolloutpolicy"

// Reconciler reconciles RolloutPolicies.
type Reconciler struct {
	Client client.Client
	// PrometheusAddress is the manager's --prometheus-address, used by gates naming none.
	PrometheusAddress string
}

// +kubebuilder:rbac:groups=drover.dev,resources=rolloutpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=drover.dev,resources=rolloutpolicies/status,verbs=get;update;patch

// SetupWithManager registers the controller and its watches.
func (r *Reconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager, options controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&droverv1.RolloutPolicy{}).
		WithOptions(options).
		// The Accepted message lists the sets that follow the policy.
		Watches(&droverv1.ProdSet{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			set, ok := o.(*droverv1.ProdSet)
			if !ok || set.Spec.RolloutPolicyRef == nil {
				return nil
			}
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: set.Namespace, Name: set.Spec.RolloutPolicyRef.Name}}}
		})).
		Complete(r)
}

// Reconcile sets the policy's Accepted condition.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	policy := &droverv1.RolloutPolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, policy); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	helper, err := patch.NewHelper(policy, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		if err := helper.Patch(ctx, policy, patch.WithOwnedConditions{Conditions: []string{droverv1.RolloutPolicyAcceptedCondition}},
			patch.WithStatusObservedGeneration{}); err != nil {
			retErr = err
		}
	}()

	sets := &droverv1.ProdSetList{}
	if err := r.Client.List(ctx, sets, client.InNamespace(policy.Namespace)); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing ProdSets: %w", err)
	}
	var users []string
	for _, s := range sets.Items {
		if s.Spec.RolloutPolicyRef != nil && s.Spec.RolloutPolicyRef.Name == policy.Name {
			users = append(users, s.Name)
		}
	}
	slices.Sort(users)
	following := "followed by no ProdSet"
	if len(users) > 0 {
		following = "followed by ProdSets " + strings.Join(users, ", ")
	}

	c := metav1.Condition{Type: droverv1.RolloutPolicyAcceptedCondition, Status: metav1.ConditionTrue,
		Reason: droverv1.RolloutPolicyAcceptedReason, Message: fmt.Sprintf("%d steps, %s strategy; %s", len(policy.Spec.Steps), strategy(policy), following)}
	if err := rollout.Validate(policy.Spec, r.PrometheusAddress); err != nil {
		c.Status, c.Reason = metav1.ConditionFalse, droverv1.RolloutPolicyInvalidReason
		c.Message = fmt.Sprintf("%v; the ProdSets that follow it (%s) hold every Prod where it is", err, following)
	}
	conditions.Set(policy, c)
	return ctrl.Result{}, nil
}

func strategy(p *droverv1.RolloutPolicy) droverv1.RolloutStrategy {
	if p.Spec.Strategy == "" {
		return droverv1.InPlaceStrategy
	}
	return p.Spec.Strategy
}
