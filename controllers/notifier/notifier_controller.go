// Package notifier reconciles Notifiers into the notifications dispatcher
// (internal/notify): it reads each Notifier's Secret (uncached: the manager keeps no
// Secret in its cache), judges the address by the namespace's tenancy, and says in the
// Ready condition whether events are sent. The status is written when the Notifier, its
// Secret, its namespace's tenancy or its receiver's health changes, never per event.
package notifier

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cluster-api/util/patch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/notify"
	"github.com/drover-dev/drover/internal/ready"
	"github.com/drover-dev/drover/internal/tenancy"
	tenancyread "github.com/drover-dev/drover/internal/tenancy/read"
	"github.com/drover-dev/drover/internal/textcut"
)

// ControllerName names the controller.
const ControllerName = "notifier"

// maxAddress bounds a webhook URL.
const maxAddress = 2048

// maxReason is the longest status.lastFailure.reason the API admits.
const maxReason = 1024

// Reconciler reconciles Notifiers.
type Reconciler struct {
	Client client.Client
	// APIReader reads the Notifiers' Secrets, uncached.
	APIReader client.Reader
	// Dispatcher sends the events.
	Dispatcher *notify.Dispatcher
	// SingleTeam is the manager's --single-team: no tenancy checks.
	SingleTeam bool
	// GateNetworks are the manager's --gate-networks, for a namespace without a Tenant.
	GateNetworks []netip.Prefix
	// ResyncInterval is how often a Notifier's Secret and tenancy are read again.
	// Defaults to 2m.
	ResyncInterval time.Duration

	health chan event.TypedGenericEvent[*droverv1.Notifier]
}

// +kubebuilder:rbac:groups=drover.dev,resources=notifiers,verbs=get;list;watch
// +kubebuilder:rbac:groups=drover.dev,resources=notifiers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=drover.dev,resources=tenants,verbs=get;list;watch

// SetupWithManager registers the controller; a Notifier whose deliveries start
// failing or recover is reconciled again, so its status says so.
func (r *Reconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager, options controller.Options) error {
	if r.ResyncInterval == 0 {
		r.ResyncInterval = 2 * time.Minute
	}
	r.health = make(chan event.TypedGenericEvent[*droverv1.Notifier], 1024)
	r.Dispatcher.OnHealthChange = func(key types.NamespacedName) {
		n := &droverv1.Notifier{}
		n.Namespace, n.Name = key.Namespace, key.Name
		select {
		case r.health <- event.TypedGenericEvent[*droverv1.Notifier]{Object: n}:
		default: // the resync catches up
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&droverv1.Notifier{}).
		WithOptions(options).
		WatchesRawSource(source.Channel(r.health, &handler.TypedEnqueueRequestForObject[*droverv1.Notifier]{})).
		// A Tenant's networks and prefixes judge its namespaces' Notifiers.
		Watches(&droverv1.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.allNotifiers)).
		Complete(r)
}

// allNotifiers lists every Notifier, to judge them again when a Tenant changed.
func (r *Reconciler) allNotifiers(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &droverv1.NotifierList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// Reconcile configures the dispatcher for the Notifier and sets its status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	n := &droverv1.Notifier{}
	if err := r.Client.Get(ctx, req.NamespacedName, n); err != nil {
		if apierrors.IsNotFound(err) {
			r.Dispatcher.Remove(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !n.DeletionTimestamp.IsZero() {
		r.Dispatcher.Remove(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	helper, err := patch.NewHelper(n, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		if err := helper.Patch(ctx, n, patch.WithOwnedConditions{Conditions: ready.Conditions},
			patch.WithStatusObservedGeneration{}); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()
	v, err := r.configure(ctx, n)
	if err != nil {
		return ctrl.Result{}, err // the status stays as it was; retried
	}
	if h, ok := r.Dispatcher.Health(req.NamespacedName); ok {
		if !h.LastFailure.IsZero() {
			n.Status.LastFailure = &droverv1.NotifierFailure{Time: metav1.NewTime(h.LastFailure.Truncate(time.Second)), Reason: textcut.Bytes(h.LastReason, maxReason)}
		}
		if h.Failing {
			v = ready.Verdict{Reconciling: true, Reason: droverv1.NotifierDeliveryFailingReason,
				Message: "the last event could not be delivered: " + h.LastReason + "; the next events are still tried"}
		}
	}
	readyReason, readyMessage := droverv1.NotifierDeliveringReason, "events are sent as they happen"
	if n.Spec.Suspend {
		readyReason, readyMessage = droverv1.NotifierSuspendedReason, "suspended: no event is sent"
	}
	ready.Apply(&n.Status.Conditions, n.Generation, v, readyMessage)
	if c := meta.FindStatusCondition(n.Status.Conditions, droverv1.ReadyCondition); c != nil && c.Status == metav1.ConditionTrue {
		c.Reason = readyReason
	}
	return ctrl.Result{RequeueAfter: r.ResyncInterval}, nil
}

// configure serves the Notifier, or stops serving it and says why.
func (r *Reconciler) configure(ctx context.Context, n *droverv1.Notifier) (ready.Verdict, error) {
	key := client.ObjectKeyFromObject(n)
	stalled := func(reason, msg string) (ready.Verdict, error) {
		r.Dispatcher.Remove(key)
		return ready.Verdict{Stalled: true, Reason: reason, Message: msg}, nil
	}
	if n.Spec.Suspend {
		r.Dispatcher.Remove(key)
		return ready.Verdict{}, nil
	}
	secret := &corev1.Secret{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: n.Namespace, Name: n.Spec.SecretRef.Name}, secret)
	switch {
	case apierrors.IsNotFound(err):
		return stalled(droverv1.NotifierSecretNotFoundReason, fmt.Sprintf("Secret %s not found in namespace %s", n.Spec.SecretRef.Name, n.Namespace))
	case err != nil:
		return ready.Verdict{}, fmt.Errorf("reading Secret %s: %w", n.Spec.SecretRef.Name, err)
	}
	address, ok := secret.Data[droverv1.NotifierAddressKey]
	if !ok || len(address) == 0 {
		return stalled(droverv1.NotifierSecretNotFoundReason, fmt.Sprintf("Secret %s has no key %q", n.Spec.SecretRef.Name, droverv1.NotifierAddressKey))
	}
	// The address is a credential: no message says it.
	u, why := parseAddress(string(address))
	if why != "" {
		return stalled(droverv1.NotifierInvalidAddressReason, fmt.Sprintf("the address in Secret %s is %s", n.Spec.SecretRef.Name, why))
	}
	var policy tenancy.Policy
	if n.Namespace != r.Dispatcher.InstallationNamespace {
		policy, err = tenancyread.Policy(ctx, r.Client, n.Namespace, r.SingleTeam)
		if err != nil {
			return ready.Verdict{}, err
		}
		policy.DefaultGateNetworks = r.GateNetworks
		if ref := checkAddress(policy, u); ref != nil {
			return stalled(droverv1.NotifierNotPermittedReason, fmt.Sprintf("%s does not allow the address in Secret %s (%s); "+
				"a Notifier reaches what the namespace's rollout gates may reach", ref.Policy, n.Spec.SecretRef.Name, ref.Rule))
		}
	}
	cfg := notify.Config{Key: key, Type: n.Spec.Type, URL: u.String(), Reasons: n.Spec.Reasons,
		WarningsOnly: n.Spec.Severity == droverv1.NotifierSeverityWarning}
	if err := r.Dispatcher.Configure(cfg, policy); err != nil {
		if errors.Is(err, notify.ErrTooMany) {
			return stalled(droverv1.NotifierTooManyReason, err.Error()+"; this one sends nothing until another is deleted")
		}
		return ready.Verdict{}, err
	}
	return ready.Verdict{}, nil
}

// parseAddress parses a webhook URL: http or https, a host, no fragment, bounded.
func parseAddress(s string) (*url.URL, string) {
	if len(s) > maxAddress {
		return nil, fmt.Sprintf("longer than %d bytes", maxAddress)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, "not a URL"
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, "not an http:// or https:// URL"
	case u.Hostname() == "":
		return nil, "a URL without a host"
	}
	u.Fragment, u.RawFragment = "", ""
	return u, ""
}

// checkAddress judges what can be judged before connecting: the URL by the Tenant's
// prefixes, and a literal IP address by its networks. A host name is judged on every
// connection, on the address it resolves to.
func checkAddress(policy tenancy.Policy, u *url.URL) *tenancy.Refusal {
	if ref := policy.GateURL(u.String()); ref != nil {
		return ref
	}
	if addr, err := netip.ParseAddr(u.Hostname()); err == nil {
		return policy.GateAddress(addr)
	}
	return nil
}
