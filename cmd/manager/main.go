// Command manager runs drover's controllers against a control-plane cluster.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/drover-dev/drover/internal/hooks"
	"github.com/drover-dev/drover/internal/setup"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "drover-manager:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		probeAddr        string
		leaderElect      bool
		leaderElectionNS string
		leaseDuration    time.Duration
		renewDeadline    time.Duration
		retryPeriod      time.Duration
		opts             setup.Options
		cloud            setup.CloudFlags
		hookOpts         hooks.Options
		hookNamespaces   string
		metrics          setup.MetricsFlags
		pprof            string
	)
	fs := pflag.CommandLine
	metrics.Bind(fs)
	fs.StringVar(&pprof, "pprof", "", "Serve Go's profiles (/debug/pprof/) on this loopback address, such as 127.0.0.1:6060 (reach it with kubectl port-forward); empty serves none.")
	fs.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	fs.BoolVar(&leaderElect, "leader-elect", true, "Elect a leader so that only one replica acts at a time.")
	fs.StringVar(&leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election Lease; defaults to the manager's own namespace.")
	fs.DurationVar(&leaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long a non-leader waits before taking over an unrenewed lease.")
	fs.DurationVar(&renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before it gives up leading.")
	fs.DurationVar(&retryPeriod, "leader-elect-retry-period", 2*time.Second, "How often leader election is retried.")
	fs.DurationVar(&opts.ProdResyncInterval, "prod-resync-interval", 10*time.Minute, "How often a settled Prod is compared again with its workload cluster's cache (drift is corrected as soon as the workload watch sees it; this is the safety net), applying only what drifted.")
	fs.BoolVar(&opts.SingleTeam, "single-team", false, "Turn tenancy off: every Prod may reach every Cluster, namespace and kind, as drover's own identity. Only for an installation that serves one trusted team.")
	fs.StringSliceVar(&opts.DefaultOctaviaProjects, "default-octavia-projects", nil, "OpenStack projects whose Octavia load balancers the Prods of a namespace without a Tenant may mirror; none by default (a Tenant's spec.octaviaProjects stands for its namespaces).")
	fs.StringVar(&opts.ManagerNamespace, "manager-namespace", setup.DefaultManagerNamespace(), "The manager's namespace, where the records of what released Prods and ProdSets left behind are kept (kubectl drover leftovers).")
	fs.StringVar(&opts.NotifierNamespace, "notifier-namespace", "", "The installation namespace: its Notifiers receive the events of every namespace and of cluster-scoped objects, and their webhooks are trusted (not judged by a Tenant's gateNetworks). Defaults to --manager-namespace.")
	fs.StringVar(&opts.WatchFilterValue, "watch-filter", "", "Only act on Clusters labelled cluster.x-k8s.io/watch-filter=<value>.")
	fs.IntVar(&opts.ProdConcurrency, "prod-concurrency", 10, "Prods reconciled at once.")
	fs.IntVar(&opts.ClusterCacheConcurrency, "clustercache-concurrency", 10, "Clusters the cluster cache connects to and probes at once.")
	fs.DurationVar(&opts.WorkloadClientTimeout, "workload-client-timeout", 10*time.Second, "Timeout of each request to a workload cluster.")
	fs.IntVar(&opts.ProdSetConcurrency, "prodset-concurrency", 5, "ProdSets reconciled at once.")
	fs.DurationVar(&opts.UnreachableGrace, "unreachable-grace", 5*time.Second, "How long a workload cluster must stay unreachable before its Prods leave traffic.")
	fs.StringSliceVar(&opts.GateNetworks, "gate-networks", nil, "Networks (CIDRs) the rollout gates of a namespace without a Tenant may connect to, such as 10.0.0.0/8; none: public addresses only. Loopback, link-local and metadata addresses need a CIDR within their range (docs/security.md).")
	fs.StringVar(&opts.PrometheusAddress, "prometheus-address", "", "Prometheus that rollout gates query when they name none, such as http://prometheus.monitoring:9090.")
	fs.DurationVar(&opts.ConnectionRetryInterval, "connection-retry-interval", 10*time.Second, "How soon to try again to connect to a workload cluster whose connection was lost.")
	fs.IntVar(&hookOpts.Port, "runtime-extension-port", 0, "Port of the Cluster API Runtime Extension server (BeforeClusterUpgrade/AfterClusterUpgrade hooks, TLS); 0 disables it.")
	fs.StringVar(&hookOpts.CertDir, "runtime-extension-cert-dir", "", "Directory with the Runtime Extension's serving certificate and key (tls.crt, tls.key).")
	fs.BoolVar(&hookOpts.Surge, "runtime-extension-surge", false, "ClusterMaintenances created by the BeforeClusterUpgrade hook surge replacements before draining.")
	fs.StringVar(&hookOpts.ClientCAFile, "runtime-extension-client-ca-file", "", "PEM bundle of the CAs of the client certificate Cluster API calls the Runtime Extension with (its --runtime-extension-client-cert-file); required with --runtime-extension-port.")
	fs.StringSliceVar(&hookOpts.ClientNames, "runtime-extension-client-names", nil, "Common Names or DNS names the Runtime Extension's client certificate must have one of; empty lets any certificate of the CA through.")
	fs.StringVar(&hookNamespaces, "runtime-extension-namespace-selector", "", `The ExtensionConfig's namespaceSelector, as JSON (e.g. {"matchLabels":{"drover.dev/upgrade-hooks":"enabled"}}): the hooks refuse Clusters in other namespaces. Empty selects every namespace.`)
	cloud.Bind(fs)

	zapOpts := zap.Options{}
	goFlags := flag.NewFlagSet("zap", flag.ExitOnError)
	zapOpts.BindFlags(goFlags)
	klog.InitFlags(goFlags)
	fs.AddGoFlagSet(goFlags)
	// controller-runtime registers --kubeconfig on the standard flag set.
	fs.AddGoFlagSet(flag.CommandLine)
	pflag.Parse()

	logger := zap.New(zap.UseFlagOptions(&zapOpts), zap.JSONEncoder())
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)

	metricsOpts, err := metrics.ServerOptions()
	if err != nil {
		return err
	}
	if !metrics.Secure && metrics.BindAddress != "0" {
		logger.Info("serving metrics over plain HTTP to anyone who can reach them (--metrics-secure=false); for local runs only", "address", metrics.BindAddress)
	}
	pprofAddr, err := setup.PprofBindAddress(pprof)
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        setup.Scheme(),
		Cache:                         setup.CacheOptions(),
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        probeAddr,
		PprofBindAddress:              pprofAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "drover-manager.drover.dev",
		LeaderElectionNamespace:       leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	if err := cloud.Apply(ctx, &opts); err != nil {
		return err
	}
	if _, err := setup.Controllers(ctx, mgr, opts); err != nil {
		return err
	}
	if hookOpts.Port != 0 {
		if hookOpts.NamespaceSelector, err = hooks.ParseNamespaceSelector(hookNamespaces); err != nil {
			return fmt.Errorf("--runtime-extension-namespace-selector: %w", err)
		}
		if err := hooks.SetupWithManager(mgr, hookOpts); err != nil {
			return fmt.Errorf("setting up the Runtime Extension: %w", err)
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	logger.Info("starting drover manager", "leaderElection", leaderElect)
	return mgr.Start(ctx)
}
