// Package hooks is drover's Cluster API Runtime Extension: it answers the
// BeforeClusterUpgrade and AfterClusterUpgrade lifecycle hooks so that an upgrade of a
// ClusterClass-managed cluster waits, without anyone touching it, until drover has
// drained the cluster's traffic, and re-admits the cluster afterwards.
//
// The hooks speak only ClusterMaintenance: BeforeClusterUpgrade makes sure one exists
// for the cluster and says "retry" until it is Drained; AfterClusterUpgrade deletes the
// one it made and says "retry" until it is gone (that is, until the Prods are back in
// traffic). The maintenance controller decides everything else, including refusing a
// drain that would leave a ProdSet below its serving minimum — which keeps the upgrade
// waiting, with the refusal as the hook's message.
//
// Neither hook acts on a request's word alone. The caller must present a client
// certificate signed by the configured CA (Cluster API's --runtime-extension-client-cert-file),
// the Cluster's namespace must be selected by the ExtensionConfig's namespaceSelector, and
// the Cluster, read from the API server, must really be under upgrade to the version the
// request names: BeforeClusterUpgrade drains only a ClusterClass-managed Cluster whose
// spec.topology.version is that version while its control plane still runs another, and
// AfterClusterUpgrade ends the drain only once the control plane runs that version.
//
// The server is Cluster API's own (exp/runtime/server): TLS, the discovery endpoint and
// the request and response types of api/runtime/hooks/v1alpha1.
package hooks

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	runtimecatalog "sigs.k8s.io/cluster-api/api/runtime/catalog"
	runtimehooksv1 "sigs.k8s.io/cluster-api/api/runtime/hooks/v1alpha1"
	"sigs.k8s.io/cluster-api/exp/runtime/server"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

const (
	// CreatedByLabel marks the ClusterMaintenances the hooks create (value CreatedBy);
	// AfterClusterUpgrade deletes only those.
	CreatedByLabel = "drover.dev/created-by"
	// CreatedBy is CreatedByLabel's value.
	CreatedBy = "runtime-extension"

	// BeforeClusterUpgradeHandler and AfterClusterUpgradeHandler are the handler names
	// the discovery endpoint announces; Cluster API registers them as
	// "<handler>.<ExtensionConfig name>".
	BeforeClusterUpgradeHandler = "drover-before-cluster-upgrade"
	AfterClusterUpgradeHandler  = "drover-after-cluster-upgrade"
)

// Handlers answers the hooks.
type Handlers struct {
	Client client.Client
	// Surge sets spec.surge on the ClusterMaintenances the hooks create.
	Surge bool
	// RetryAfter is how soon Cluster API should call again while drover works. Default 10s.
	RetryAfter time.Duration
	// NamespaceSelector selects the namespaces whose Clusters the hooks act on: the
	// namespaceSelector of the ExtensionConfig that registers them. A Cluster in another
	// namespace is refused. Nil selects every namespace, as Cluster API does.
	NamespaceSelector labels.Selector
}

// +kubebuilder:rbac:groups=drover.dev,resources=clustermaintenances,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=cluster.x-k8s.io,resources=clusters,verbs=get
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// BeforeClusterUpgrade starts the drain of the cluster and holds the upgrade until it is
// drained.
func (h *Handlers) BeforeClusterUpgrade(ctx context.Context, req *runtimehooksv1.BeforeClusterUpgradeRequest, resp *runtimehooksv1.BeforeClusterUpgradeResponse) {
	cluster := client.ObjectKey{Namespace: req.Cluster.Namespace, Name: req.Cluster.Name}
	log := ctrl.LoggerFrom(ctx).WithValues("cluster", cluster, "hook", "BeforeClusterUpgrade")
	c, err := h.cluster(ctx, &req.Cluster, req.ToKubernetesVersion)
	if err == nil {
		err = underUpgrade(c)
	}
	if err != nil {
		log.Info("refused", "reason", err.Error())
		resp.SetStatus(runtimehooksv1.ResponseStatusFailure)
		resp.SetMessage(fmt.Sprintf("drover refuses to drain cluster %s: %v", cluster, err))
		return
	}
	m, err := h.ensureMaintenance(ctx, cluster, req.ToKubernetesVersion)
	if err != nil {
		log.Error(err, "starting the drain")
		resp.SetStatus(runtimehooksv1.ResponseStatusFailure)
		resp.SetMessage(fmt.Sprintf("drover could not start draining cluster %s: %v", cluster, err))
		return
	}
	resp.SetStatus(runtimehooksv1.ResponseStatusSuccess)
	if m.Status.Phase == droverv1.MaintenanceDrained {
		resp.SetRetryAfterSeconds(0)
		resp.SetMessage(fmt.Sprintf("cluster %s is drained (ClusterMaintenance %s)", cluster, m.Name))
		return
	}
	resp.SetRetryAfterSeconds(h.retryAfter())
	resp.SetMessage(fmt.Sprintf("waiting for drover to drain cluster %s: ClusterMaintenance %s is %s: %s",
		cluster, m.Name, phaseOf(m), explain(m)))
	log.V(2).Info("upgrade held", "phase", phaseOf(m))
}

// AfterClusterUpgrade re-admits the cluster: it deletes the ClusterMaintenance that
// BeforeClusterUpgrade created and answers "retry" until it is gone.
func (h *Handlers) AfterClusterUpgrade(ctx context.Context, req *runtimehooksv1.AfterClusterUpgradeRequest, resp *runtimehooksv1.AfterClusterUpgradeResponse) {
	cluster := client.ObjectKey{Namespace: req.Cluster.Namespace, Name: req.Cluster.Name}
	log := ctrl.LoggerFrom(ctx).WithValues("cluster", cluster, "hook", "AfterClusterUpgrade")
	c, err := h.cluster(ctx, &req.Cluster, req.KubernetesVersion)
	if err != nil {
		log.Info("refused", "reason", err.Error())
		resp.SetStatus(runtimehooksv1.ResponseStatusFailure)
		resp.SetMessage(fmt.Sprintf("drover refuses to end the drain of cluster %s: %v", cluster, err))
		return
	}
	if running, ok := controlPlaneAt(c, req.KubernetesVersion); !ok {
		// Cluster API calls this hook once the control plane is stable at the new
		// version; the Cluster's status may lag behind its control plane's for a moment.
		// Either way the drain stays until the Cluster says the upgrade is done.
		resp.SetStatus(runtimehooksv1.ResponseStatusSuccess)
		resp.SetRetryAfterSeconds(h.retryAfter())
		resp.SetMessage(fmt.Sprintf("drover keeps cluster %s drained: its control plane runs %s, not yet %s",
			cluster, running, req.KubernetesVersion))
		log.Info("drain kept", "controlPlane", running, "target", req.KubernetesVersion)
		return
	}
	ours, err := h.maintenances(ctx, cluster, true)
	if err != nil {
		resp.SetStatus(runtimehooksv1.ResponseStatusFailure)
		resp.SetMessage(fmt.Sprintf("drover could not list the ClusterMaintenances of cluster %s: %v", cluster, err))
		return
	}
	var waiting []string
	for i := range ours {
		m := &ours[i]
		gone, err := h.end(ctx, m)
		if err != nil {
			resp.SetStatus(runtimehooksv1.ResponseStatusFailure)
			resp.SetMessage(fmt.Sprintf("drover could not end ClusterMaintenance %s: %v", m.Name, err))
			return
		}
		if !gone {
			waiting = append(waiting, m.Name)
		}
	}
	resp.SetStatus(runtimehooksv1.ResponseStatusSuccess)
	if len(waiting) == 0 {
		resp.SetRetryAfterSeconds(0)
		resp.SetMessage(fmt.Sprintf("cluster %s is back in traffic", cluster))
		return
	}
	resp.SetRetryAfterSeconds(h.retryAfter())
	resp.SetMessage(fmt.Sprintf("putting cluster %s back into traffic: waiting for ClusterMaintenance %s to end", cluster, strings.Join(waiting, ", ")))
}

// cluster reads the Cluster a request names from the API server and checks that the hooks
// may act on it: its namespace is selected, it is the Cluster the request carries (same
// UID), it is managed by a ClusterClass (Cluster API calls the upgrade hooks for no
// other) and its spec.topology.version is the version the request names. The error
// says why not.
func (h *Handlers) cluster(ctx context.Context, ref *clusterv1.Cluster, version string) (*clusterv1.Cluster, error) {
	key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
	if key.Namespace == "" || key.Name == "" {
		return nil, fmt.Errorf("the request names no Cluster")
	}
	if h.NamespaceSelector != nil && !h.NamespaceSelector.Empty() {
		ns := &corev1.Namespace{}
		if err := h.Client.Get(ctx, client.ObjectKey{Name: key.Namespace}, ns); err != nil {
			return nil, fmt.Errorf("reading namespace %s: %w", key.Namespace, err)
		}
		if !h.NamespaceSelector.Matches(labels.Set(ns.Labels)) {
			return nil, fmt.Errorf("namespace %s is not selected by the Runtime Extension's namespaceSelector (%s)", key.Namespace, h.NamespaceSelector)
		}
	}
	c := &clusterv1.Cluster{}
	if err := h.Client.Get(ctx, key, c); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("there is no Cluster %s", key)
		}
		return nil, fmt.Errorf("reading Cluster %s: %w", key, err)
	}
	if ref.UID != "" && ref.UID != c.UID {
		return nil, fmt.Errorf("the request is about Cluster %s with UID %s; the Cluster of that name has UID %s", key, ref.UID, c.UID)
	}
	if !c.Spec.Topology.IsDefined() {
		return nil, fmt.Errorf("cluster %s has no spec.topology: Cluster API calls the upgrade hooks only for Clusters a ClusterClass manages", key)
	}
	if version == "" || !sameVersion(c.Spec.Topology.Version, version) {
		return nil, fmt.Errorf("the request is about an upgrade to %q; cluster %s has spec.topology.version %q", version, key, c.Spec.Topology.Version)
	}
	return c, nil
}

// underUpgrade says why a Cluster whose spec.topology.version the request names is not
// being upgraded: its control plane, as the Cluster's status.controlPlane.versions
// reports it, runs that version already. The control plane provider reports the
// versions (KubeadmControlPlane does); a Cluster that reports none is refused, as the
// hook cannot tell.
func underUpgrade(c *clusterv1.Cluster) error {
	running, at := controlPlaneAt(c, c.Spec.Topology.Version)
	switch {
	case running == "":
		return fmt.Errorf("cluster %s/%s reports no control plane version (status.controlPlane.versions), so drover cannot tell that it is being upgraded", c.Namespace, c.Name)
	case at:
		return fmt.Errorf("cluster %s/%s is not being upgraded: its control plane runs %s, its spec.topology.version", c.Namespace, c.Name, running)
	}
	return nil
}

// controlPlaneAt reports the versions the Cluster's control plane runs (from its status,
// "" when it reports none) and whether they are all version.
func controlPlaneAt(c *clusterv1.Cluster, version string) (string, bool) {
	if c.Status.ControlPlane == nil || len(c.Status.ControlPlane.Versions) == 0 {
		return "", false
	}
	var running []string
	at := true
	for _, v := range c.Status.ControlPlane.Versions {
		running = append(running, v.Version)
		at = at && sameVersion(v.Version, version)
	}
	return strings.Join(running, ", "), at
}

// sameVersion compares Kubernetes versions with or without their leading "v".
func sameVersion(a, b string) bool {
	return a != "" && strings.TrimPrefix(a, "v") == strings.TrimPrefix(b, "v")
}

// end deletes a ClusterMaintenance and reports whether it is gone; it stays while its
// finalizer holds it, until the cluster's Prods are back in traffic.
func (h *Handlers) end(ctx context.Context, m *droverv1.ClusterMaintenance) (bool, error) {
	if m.DeletionTimestamp.IsZero() {
		if err := h.Client.Delete(ctx, m, client.Preconditions{UID: &m.UID}); err != nil {
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		}
	}
	now := &droverv1.ClusterMaintenance{}
	if err := h.Client.Get(ctx, client.ObjectKeyFromObject(m), now); err != nil {
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	}
	return now.UID != m.UID, nil
}

// ensureMaintenance returns a ClusterMaintenance of the cluster, creating one when there
// is none (someone else's counts: the drain is the same).
func (h *Handlers) ensureMaintenance(ctx context.Context, cluster client.ObjectKey, version string) (*droverv1.ClusterMaintenance, error) {
	all, err := h.maintenances(ctx, cluster, false)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].DeletionTimestamp.IsZero() {
			return &all[i], nil
		}
	}
	reason := "Cluster API upgrade"
	if version != "" {
		reason += " to " + version
	}
	for i := 0; i < 10; i++ {
		name := cluster.Name + "-upgrade"
		if i > 0 {
			name = fmt.Sprintf("%s-%d", name, i)
		}
		m := &droverv1.ClusterMaintenance{
			ObjectMeta: metav1.ObjectMeta{Namespace: cluster.Namespace, Name: name, Labels: map[string]string{CreatedByLabel: CreatedBy}},
			Spec:       droverv1.ClusterMaintenanceSpec{ClusterName: cluster.Name, Surge: h.Surge, Reason: reason},
		}
		err := h.Client.Create(ctx, m)
		if apierrors.IsAlreadyExists(err) {
			// Taken: by a maintenance of another cluster or one going away (try the next
			// name), or by one for this cluster that a concurrent call just created (use it).
			existing := &droverv1.ClusterMaintenance{}
			if err := h.Client.Get(ctx, client.ObjectKeyFromObject(m), existing); err != nil && !apierrors.IsNotFound(err) {
				return nil, err
			} else if err == nil && existing.Spec.ClusterName == cluster.Name && existing.DeletionTimestamp.IsZero() {
				return existing, nil
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("no free name for a ClusterMaintenance of cluster %s", cluster)
}

// maintenances lists the cluster's ClusterMaintenances, only those the hooks created
// when ours is set. The read is live: a ClusterMaintenance created by the previous call
// must be found by the next.
func (h *Handlers) maintenances(ctx context.Context, cluster client.ObjectKey, ours bool) ([]droverv1.ClusterMaintenance, error) {
	list := &droverv1.ClusterMaintenanceList{}
	opts := []client.ListOption{client.InNamespace(cluster.Namespace)}
	if ours {
		opts = append(opts, client.MatchingLabels{CreatedByLabel: CreatedBy})
	}
	if err := h.Client.List(ctx, list, opts...); err != nil {
		return nil, err
	}
	var out []droverv1.ClusterMaintenance
	for _, m := range list.Items {
		if m.Spec.ClusterName == cluster.Name {
			out = append(out, m)
		}
	}
	return out, nil
}

func (h *Handlers) retryAfter() int32 {
	if h.RetryAfter <= 0 {
		return 10
	}
	return int32(max(h.RetryAfter.Round(time.Second)/time.Second, 1))
}

func phaseOf(m *droverv1.ClusterMaintenance) droverv1.MaintenancePhase {
	if m.Status.Phase == "" {
		return droverv1.MaintenancePending
	}
	return m.Status.Phase
}

// explain says what the maintenance waits for: the message of its Drained condition,
// which the maintenance controller keeps current in every phase (a refusal included),
// else that of Admitted.
func explain(m *droverv1.ClusterMaintenance) string {
	for _, t := range []string{droverv1.MaintenanceDrainedCondition, droverv1.MaintenanceAdmittedCondition} {
		if msg := conditions.GetMessage(m, t); msg != "" {
			return msg
		}
	}
	return "drover has not looked at it yet"
}

// Options configure the Runtime Extension server.
type Options struct {
	// Host and Port the server listens on; Port 0 means server.DefaultPort (9443).
	Host string
	Port int
	// CertDir holds the serving certificate and key, CertName and KeyName (default
	// tls.crt and tls.key); they are reloaded when they change.
	CertDir, CertName, KeyName string
	// Surge and RetryAfter: see Handlers.
	Surge      bool
	RetryAfter time.Duration

	// ClientCAFile is a PEM bundle of the CAs that sign the callers' client
	// certificates (Cluster API's --runtime-extension-client-cert-file). Required: a
	// caller without a certificate it verifies fails the TLS handshake. It is re-read
	// when it changes.
	ClientCAFile string
	// ClientNames, when set, are the only subjects let through: the client
	// certificate's Common Name or one of its DNS names must be one of them.
	ClientNames []string
	// NamespaceSelector is the ExtensionConfig's namespaceSelector (see
	// Handlers.NamespaceSelector); nil selects every namespace.
	NamespaceSelector *metav1.LabelSelector
}

// NewServer returns the Runtime Extension server with drover's handlers registered.
// Added to a manager it runs on every replica, leader or not (Cluster API may call any
// pod behind the Service): it embeds controller-runtime's webhook.Server, which the
// manager starts with the webhooks, before and regardless of leader election
// (NeedLeaderElection is false).
func NewServer(c client.Client, opts Options) (*server.Server, error) {
	if opts.ClientCAFile == "" {
		return nil, fmt.Errorf("no client CA: the Runtime Extension only answers callers with a client certificate (--runtime-extension-client-ca-file)")
	}
	auth, err := newClientAuth(opts.ClientCAFile, opts.ClientNames)
	if err != nil {
		return nil, err
	}
	selector := labels.Everything()
	if opts.NamespaceSelector != nil {
		if selector, err = metav1.LabelSelectorAsSelector(opts.NamespaceSelector); err != nil {
			return nil, fmt.Errorf("namespace selector: %w", err)
		}
	}
	catalog := runtimecatalog.New()
	if err := runtimehooksv1.AddToCatalog(catalog); err != nil {
		return nil, err
	}
	srv, err := server.New(server.Options{
		Catalog: catalog, Host: opts.Host, Port: opts.Port,
		CertDir: opts.CertDir, CertName: opts.CertName, KeyName: opts.KeyName,
		TLSOpts: []func(*tls.Config){auth.configure},
	})
	if err != nil {
		return nil, err
	}
	h := &Handlers{Client: c, Surge: opts.Surge, RetryAfter: opts.RetryAfter, NamespaceSelector: selector}
	for _, eh := range []server.ExtensionHandler{
		{Hook: runtimehooksv1.BeforeClusterUpgrade, Name: BeforeClusterUpgradeHandler, HandlerFunc: h.BeforeClusterUpgrade},
		{Hook: runtimehooksv1.AfterClusterUpgrade, Name: AfterClusterUpgradeHandler, HandlerFunc: h.AfterClusterUpgrade},
	} {
		if err := srv.AddExtensionHandler(eh); err != nil {
			return nil, err
		}
	}
	return srv, nil
}

// ReadyzCheck is the name of the manager's readiness check (/readyz/runtime-extension)
// that passes once the server accepts TLS connections, so that the Service in front of
// the replicas sends Cluster API's calls only to those that can answer.
const ReadyzCheck = "runtime-extension"

// SetupWithManager adds the Runtime Extension server to mgr, with a readiness check. The
// hooks use a live (uncached) client: a ClusterMaintenance created by one call must be
// found by the next, and the server runs on replicas that are not the leader, whose
// caches may lag.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	c, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return err
	}
	srv, err := NewServer(c, opts)
	if err != nil {
		return err
	}
	if err := mgr.Add(srv); err != nil {
		return err
	}
	return mgr.AddReadyzCheck(ReadyzCheck, srv.StartedChecker())
}
