// Package rolloutpolicy reconciles RolloutPolicies: it checks what the API server's
// validation cannot (the gates' templates, thresholds, a Prometheus to ask) and says in
// the Accepted condition whether the policy can run, and which ProdSets follow it. The
// ProdSet controller runs the rollouts and holds a set whose policy is not accepted.
package rolloutpolicy

import (
	"context"
	"errors"
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
	"github.com/drover-dev/drover/internal/ready"
	"github.com/drover-dev/drover/internal/rollout"
	rolloutread "github.com/drover-dev/drover/internal/rollout/read"
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
// +kubebuilder:rbac:groups=drover.dev,resources=analysistemplates;clusteranalysistemplates,verbs=get;list;watch

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
		// A template made, changed or deleted is judged again in every policy using it.
		Watches(&droverv1.AnalysisTemplate{}, handler.EnqueueRequestsFromMapFunc(r.usersOf)).
		Watches(&droverv1.ClusterAnalysisTemplate{}, handler.EnqueueRequestsFromMapFunc(r.usersOf)).
		Complete(r)
}

// usersOf lists the policies that use the analysis template o: of its namespace for an
// AnalysisTemplate, of every namespace for a ClusterAnalysisTemplate.
func (r *Reconciler) usersOf(ctx context.Context, o client.Object) []reconcile.Request {
	_, cluster := o.(*droverv1.ClusterAnalysisTemplate)
	policies := &droverv1.RolloutPolicyList{}
	var opts []client.ListOption
	if !cluster {
		opts = append(opts, client.InNamespace(o.GetNamespace()))
	}
	if err := r.Client.List(ctx, policies, opts...); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, p := range policies.Items {
		uses := slices.ContainsFunc(p.Spec.Steps, func(s droverv1.RolloutStep) bool {
			return slices.ContainsFunc(s.Gates, func(g droverv1.Gate) bool {
				return g.Template != nil && g.Template.Name == o.GetName() && g.Template.Cluster == cluster
			})
		})
		if uses {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
		}
	}
	return out
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
		if err := helper.Patch(ctx, policy, patch.WithOwnedConditions{Conditions: append([]string{droverv1.RolloutPolicyAcceptedCondition}, ready.Conditions...)},
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
	_, err = rollout.Prepare(policy.Spec, rolloutread.Lookup(ctx, r.Client, policy.Namespace), r.PrometheusAddress)
	if errors.Is(err, rollout.ErrLookup) {
		return ctrl.Result{}, err // the condition stays as it was; retried
	}
	if err != nil {
		c.Status, c.Reason = metav1.ConditionFalse, droverv1.RolloutPolicyInvalidReason
		c.Message = fmt.Sprintf("%v; the ProdSets that follow it (%s) hold every Prod where it is", err, following)
	}
	conditions.Set(policy, c)
	ready.Apply(&policy.Status.Conditions, policy.Generation, ready.RolloutPolicy(policy), "accepted")
	return ctrl.Result{}, nil
}

func strategy(p *droverv1.RolloutPolicy) droverv1.RolloutStrategy {
	if p.Spec.Strategy == "" {
		return droverv1.InPlaceStrategy
	}
	return p.Spec.Strategy
}
