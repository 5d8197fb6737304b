// Package setup wires drover's controllers into a controller-runtime manager. The
// manager binary and the envtest suites use the same wiring, so what the tests prove is
// what runs.
package setup

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/maintenance"
	"github.com/drover-dev/drover/controllers/mirror"
	"github.com/drover-dev/drover/controllers/notifier"
	"github.com/drover-dev/drover/controllers/prod"
	"github.com/drover-dev/drover/controllers/prodset"
	"github.com/drover-dev/drover/controllers/releasediff"
	"github.com/drover-dev/drover/controllers/rolloutpolicy"
	"github.com/drover-dev/drover/internal/cloud/elbv2"
	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/gates"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/notify"
	"github.com/drover-dev/drover/internal/traffic"
)

// Scheme returns a scheme with every type the manager reads or writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, clusterv1.AddToScheme, droverv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// CacheOptions is the manager's cache of the control plane. It keeps no managedFields:
// nothing drover does with a control-plane object reads them, and a ProdSet's would be
// decoded and kept on every watch event for nothing. Of ControllerRevisions it holds the
// metadata of drover's only (label drover.dev/prodset), never their data.
func CacheOptions() cache.Options {
	drovers, _ := labels.Parse(droverv1.ProdSetNameLabel) // carrying the label; a constant key always parses
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			prodset.ControllerRevisionMetadata(): {Label: drovers},
		},
	}
}

// Options tune the controllers.
type Options struct {
	// WatchFilterValue, when set, limits the Clusters drover connects to to those labelled
	// cluster.x-k8s.io/watch-filter=<value>, as Cluster API's own controllers do.
	WatchFilterValue string
	// ProdConcurrency is how many Prods reconcile at once.
	ProdConcurrency int
	// ClusterCacheConcurrency is how many Clusters the cluster cache probes at once.
	ClusterCacheConcurrency int
	// WorkloadClientTimeout bounds each request to a workload cluster.
	WorkloadClientTimeout time.Duration
	// ProdResyncInterval is how often a settled Prod is compared again with its workload
	// cluster's cache, applying what drifted (the watches correct drift at once).
	ProdResyncInterval time.Duration
	// ProdSetConcurrency is how many ProdSets reconcile at once.
	ProdSetConcurrency int
	// Publisher publishes the ProdSets' DNS weights; nil means no traffic provider.
	Publisher traffic.Publisher
	// UnreachableGrace is how long a workload cluster must stay unreachable before its
	// Prods leave traffic. Defaults to 5s.
	UnreachableGrace time.Duration
	// ConnectionRetryInterval is how soon the cluster cache tries again to connect to a
	// workload cluster it lost. Defaults to 10s (Cluster API's own default is 30s).
	ConnectionRetryInterval time.Duration
	// MaintenanceRecheckInterval is how often a waiting ClusterMaintenance is re-checked.
	MaintenanceRecheckInterval time.Duration
	// PrometheusAddress is the Prometheus that rollout gates naming none query.
	PrometheusAddress string
	// ReleaseDiffTTL is how long a completed ReleaseDiff is kept before the manager
	// deletes it. Defaults to 10m.
	ReleaseDiffTTL time.Duration

	// Octavia reads the Prods' Octavia load balancers (their endpoints, and what NLB
	// mirrors copy); nil leaves endpoints unknown.
	Octavia octavia.Client
	// ELBv2 is where NLB mirrors are made; nil reports every mirror NotConfigured.
	ELBv2 elbv2.API
	// Owner identifies this drover installation in the NLBs' ownership tags (and the
	// Route53 provider's records). Defaults to "drover".
	Owner string
	// NLBNetwork is where NLBs are made (VPC, subnets, scheme).
	NLBNetwork nlb.Network
	// MirrorPollInterval is how often an Octavia load balancer is read when its Prod does
	// not say. Defaults to 30s.
	MirrorPollInterval time.Duration
	// MirrorConcurrency is how many Prods' endpoints and mirrors sync at once.
	MirrorConcurrency int
	// SingleTeam turns tenancy off: every Prod may run on any Cluster, apply into any
	// namespace and apply any kind, as drover's own identity. For an installation that
	// serves one trusted team only.
	SingleTeam bool
	// ManagerNamespace is the manager's own namespace, where the records of what released
	// Prods and ProdSets left behind are kept (internal/leftovers).
	ManagerNamespace string
	// DefaultOctaviaProjects are the OpenStack projects whose load balancers the Prods of a
	// namespace without a Tenant may mirror; none: none (a Tenant's spec.octaviaProjects
	// stands for its namespaces).
	DefaultOctaviaProjects []string
	// GateNetworks are the networks (CIDRs) the rollout gates of a namespace without a
	// Tenant may connect to; none: public addresses only. A Tenant's spec.gateNetworks
	// stands for its namespaces.
	GateNetworks []string
	// NotifierNamespace is the installation namespace: its Notifiers receive the events
	// of every namespace and of cluster-scoped objects, and their receivers are trusted.
	// Defaults to ManagerNamespace.
	NotifierNamespace string
	// NotifierResyncInterval is how often a Notifier's Secret and its namespace's
	// tenancy are read again. Defaults to 2m.
	NotifierResyncInterval time.Duration
	// Notifications, when set, is the dispatcher the Notifiers are served by (a test's,
	// with short waits); otherwise one is made.
	Notifications *notify.Dispatcher
}

// Controllers registers drover's controllers with mgr. It returns the cluster cache
// it created, for callers that need workload clients too.
func Controllers(ctx context.Context, mgr ctrl.Manager, opts Options) (clustercache.ClusterCache, error) {
	if opts.SingleTeam {
		ctrl.Log.WithName("setup").Error(nil, "TENANCY IS OFF (--single-team): every Prod may run on any Cluster, apply into any namespace of it, "+
			"and apply any kind, cluster-scoped ones included, as drover's own identity; do not use this installation for more than one team")
	}
	gateNetworks, err := parseNetworks(opts.GateNetworks)
	if err != nil {
		return nil, err
	}
	if opts.Owner == "" {
		opts.Owner = "drover"
	}
	if opts.NotifierNamespace == "" {
		opts.NotifierNamespace = opts.ManagerNamespace
	}
	notifications := opts.Notifications
	if notifications == nil {
		notifications = notify.New(opts.NotifierNamespace, opts.Owner)
	}
	if err := mgr.Add(notifications); err != nil {
		return nil, fmt.Errorf("adding the notifications dispatcher: %w", err)
	}
	if err := (&notifier.Reconciler{
		Client:         mgr.GetClient(),
		APIReader:      mgr.GetAPIReader(),
		Dispatcher:     notifications,
		SingleTeam:     opts.SingleTeam,
		GateNetworks:   gateNetworks,
		ResyncInterval: opts.NotifierResyncInterval,
	}).SetupWithManager(ctx, mgr, controller.Options{}); err != nil {
		return nil, fmt.Errorf("setting up the Notifier controller: %w", err)
	}
	if opts.ProdConcurrency == 0 {
		opts.ProdConcurrency = 10
	}
	if opts.ClusterCacheConcurrency == 0 {
		opts.ClusterCacheConcurrency = 10
	}
	if opts.WorkloadClientTimeout == 0 {
		opts.WorkloadClientTimeout = 10 * time.Second
	}
	if opts.ProdSetConcurrency == 0 {
		opts.ProdSetConcurrency = 5
	}
	if opts.ConnectionRetryInterval == 0 {
		opts.ConnectionRetryInterval = 10 * time.Second
	}
	cc, err := clustercache.SetupWithManager(ctx, mgr, clustercache.Options{
		// Kubeconfig Secrets are read only when a connection is (re)created, so an
		// uncached reader is enough and drover never caches every Secret.
		SecretClient:     mgr.GetAPIReader(),
		WatchFilterValue: opts.WatchFilterValue,
		Cache:            prod.WorkloadCacheOptions(),
		Client: clustercache.ClientOptions{
			Timeout:   opts.WorkloadClientTimeout,
			UserAgent: "drover-manager",
		},
	}, controller.Options{MaxConcurrentReconciles: opts.ClusterCacheConcurrency})
	if err != nil {
		return nil, fmt.Errorf("setting up the cluster cache: %w", err)
	}
	if r, ok := cc.(interface{ SetConnectionCreationRetryInterval(time.Duration) }); ok {
		r.SetConnectionCreationRetryInterval(opts.ConnectionRetryInterval)
	}
	drainer := prodset.Drainer{Client: mgr.GetClient(), Publishing: opts.Publisher != nil}
	if err := (&prod.Reconciler{
		Client:         mgr.GetClient(),
		ClusterCache:   cc,
		Traffic:        drainer,
		Recorder:       eventRecorder(mgr, "drover-"+prod.ControllerName, notifications),
		ResyncInterval: opts.ProdResyncInterval,
		SingleTeam:     opts.SingleTeam,

		LeftoversNamespace: opts.ManagerNamespace,
	}).SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: opts.ProdConcurrency}); err != nil {
		return nil, fmt.Errorf("setting up the Prod controller: %w", err)
	}
	handoffs := &traffic.Handoffs{}
	if err := (&prodset.Reconciler{
		Handoffs:     handoffs,
		Client:       mgr.GetClient(),
		ClusterCache: cc,
		Publisher:    opts.Publisher,
		Recorder:     eventRecorder(mgr, "drover-"+prodset.ControllerName, notifications),
		Grace:        opts.UnreachableGrace,
		Gates:        &gates.Runner{Prometheus: gates.PrometheusQuerier{Address: opts.PrometheusAddress}},
		SingleTeam:   opts.SingleTeam,
		GateNetworks: gateNetworks,
		APIReader:    mgr.GetAPIReader(),

		LeftoversNamespace: opts.ManagerNamespace,
	}).SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: opts.ProdSetConcurrency}); err != nil {
		return nil, fmt.Errorf("setting up the ProdSet controller: %w", err)
	}
	// A diff is one reconcile of a few requests per object; a few at once, and at most
	// releasediff.DefaultPerNamespace of one namespace.
	if err := (&releasediff.Reconciler{
		Client:       mgr.GetClient(),
		ClusterCache: cc,
		SingleTeam:   opts.SingleTeam,
		TTL:          opts.ReleaseDiffTTL,
	}).SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: 4}); err != nil {
		return nil, fmt.Errorf("setting up the ReleaseDiff controller: %w", err)
	}
	if opts.MirrorConcurrency == 0 {
		opts.MirrorConcurrency = 5
	}
	if err := (&mirror.Reconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		ClusterCache: cc,
		Octavia:      opts.Octavia,
		ELBv2:        opts.ELBv2,
		Traffic:      drainer,
		Recorder:     eventRecorder(mgr, "drover-"+mirror.ControllerName, notifications),
		Manager:      opts.Owner,
		Network:      opts.NLBNetwork,
		PollInterval: opts.MirrorPollInterval,
		SingleTeam:   opts.SingleTeam,

		LeftoversNamespace:     opts.ManagerNamespace,
		DefaultOctaviaProjects: opts.DefaultOctaviaProjects,
	}).SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: opts.MirrorConcurrency}); err != nil {
		return nil, fmt.Errorf("setting up the NLB mirror controller: %w", err)
	}
	if r, ok := opts.Publisher.(manager.Runnable); ok {
		// A publisher with workers of its own (Route53's per-zone batches).
		if err := mgr.Add(r); err != nil {
			return nil, fmt.Errorf("adding the traffic publisher: %w", err)
		}
	}
	if err := (&rolloutpolicy.Reconciler{
		Client:            mgr.GetClient(),
		PrometheusAddress: opts.PrometheusAddress,
	}).SetupWithManager(ctx, mgr, controller.Options{}); err != nil {
		return nil, fmt.Errorf("setting up the RolloutPolicy controller: %w", err)
	}
	if err := (&maintenance.Reconciler{
		Client:          mgr.GetClient(),
		APIReader:       mgr.GetAPIReader(),
		Recorder:        eventRecorder(mgr, "drover-"+maintenance.ControllerName, notifications),
		RecheckInterval: opts.MaintenanceRecheckInterval,
		Publisher:       opts.Publisher,
		Handoffs:        handoffs,
	}).SetupWithManager(ctx, mgr, controller.Options{}); err != nil {
		return nil, fmt.Errorf("setting up the ClusterMaintenance controller: %w", err)
	}
	return cc, nil
}

// parseNetworks parses --gate-networks: CIDRs with no bits set past their prefix length.
func parseNetworks(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("--gate-networks: %q is not a CIDR", c)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("--gate-networks: %q has bits set past its prefix length (%s?)", c, p.Masked())
		}
		out = append(out, p)
	}
	return out, nil
}
