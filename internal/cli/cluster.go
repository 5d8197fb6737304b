package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/safety"
)

func (c *cli) clusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "List workload clusters; drain one for maintenance and restore it",
	}
	cmd.AddCommand(c.clusterListCommand(), c.clusterDrainCommand(), c.clusterRestoreCommand())
	return cmd
}

// ClusterRow is one Cluster API Cluster in `cluster list` (and its -o json|yaml).
type ClusterRow struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Reachable is True, False or Unknown.
	Reachable string `json:"reachable"`
	// ReachableReason says where Reachable comes from.
	ReachableReason string `json:"reachableReason,omitempty"`
	// Maintenances are the ClusterMaintenances of the cluster.
	Maintenances []MaintenanceRef `json:"maintenances,omitempty"`
	// Prods is the number of Prods on the cluster.
	Prods int `json:"prods"`
	// PublishedWeight is the sum of the Prods' weights in DNS.
	PublishedWeight int32 `json:"publishedWeight"`
}

// MaintenanceRef is a ClusterMaintenance in short.
type MaintenanceRef struct {
	Name    string `json:"name"`
	Phase   string `json:"phase,omitempty"`
	Surge   bool   `json:"surge,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
}

// ClusterList is what `cluster list -o json|yaml` prints.
type ClusterList struct {
	Clusters []ClusterRow `json:"clusters"`
}

func (c *cli) clusterListCommand() *cobra.Command {
	var (
		output string
		allNss bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the Cluster API Clusters: reachable, under maintenance, Prods and published weight",
		Long: `List the Cluster API Clusters of the namespace (or every namespace with -A):

  REACHABLE    from drover's own probes (the Prods' ClusterReachable) and Cluster API's
               RemoteConnectionProbe condition: yes, no (why) or unknown
  MAINTENANCE  the phase of the cluster's ClusterMaintenance (Pending, Refused, Surging,
               Draining, Drained; "restoring" once deleted), or -
  PRODS        the Prods on the cluster (of the listed namespaces)
  WEIGHT       the sum of their weights published in DNS`,
		Aliases: []string{"ls"},
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "", "json", "yaml"); err != nil {
				return err
			}
			cl, ns, err := c.client()
			if err != nil {
				return err
			}
			if allNss {
				ns = ""
			}
			rows, err := loadClusters(cmd.Context(), cl, ns)
			if err != nil {
				return err
			}
			return c.print(output, ClusterList{Clusters: rows}, func(w io.Writer) { renderClusters(w, rows, allNss) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml (default: a table).")
	cmd.Flags().BoolVarP(&allNss, "all-namespaces", "A", false, "List the Clusters of every namespace.")
	return cmd
}

// clusterData is what the cluster verbs read.
type clusterData struct {
	clusters     []clusterv1.Cluster
	maintenances []droverv1.ClusterMaintenance
	prods        []droverv1.Prod
	sets         []droverv1.ProdSet
}

func readClusterData(ctx context.Context, cl client.Client, ns string) (*clusterData, error) {
	d := &clusterData{}
	clusters := &clusterv1.ClusterList{}
	if err := cl.List(ctx, clusters, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing Cluster API Clusters: %w", err)
	}
	cms := &droverv1.ClusterMaintenanceList{}
	if err := cl.List(ctx, cms, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing ClusterMaintenances: %w", err)
	}
	prods := &droverv1.ProdList{}
	if err := cl.List(ctx, prods, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing Prods: %w", err)
	}
	sets := &droverv1.ProdSetList{}
	if err := cl.List(ctx, sets, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing ProdSets: %w", err)
	}
	d.clusters, d.maintenances, d.prods, d.sets = clusters.Items, cms.Items, prods.Items, sets.Items
	return d, nil
}

func loadClusters(ctx context.Context, cl client.Client, ns string) ([]ClusterRow, error) {
	d, err := readClusterData(ctx, cl, ns)
	if err != nil {
		return nil, err
	}
	return clusterRows(d), nil
}

// clusterRows summarises each Cluster, sorted by namespace and name.
func clusterRows(d *clusterData) []ClusterRow {
	summaries := map[client.ObjectKey]*droverv1.ProdSummary{}
	for i := range d.sets {
		for j := range d.sets[i].Status.Prods {
			s := &d.sets[i].Status.Prods[j]
			summaries[client.ObjectKey{Namespace: d.sets[i].Namespace, Name: s.Name}] = s
		}
	}
	rows := []ClusterRow{}
	for i := range d.clusters {
		cluster := &d.clusters[i]
		row := ClusterRow{Namespace: cluster.Namespace, Name: cluster.Name}
		var onCluster []*droverv1.Prod
		for j := range d.prods {
			p := &d.prods[j]
			if p.Spec.ClusterRef.Name == cluster.Name && p.ClusterNamespace() == cluster.Namespace {
				onCluster = append(onCluster, p)
				row.Prods++
				w := p.Status.PublishedWeight
				if s := summaries[client.ObjectKeyFromObject(p)]; s != nil {
					w = s.PublishedWeight
				}
				if w != nil {
					row.PublishedWeight += *w
				}
			}
		}
		row.Reachable, row.ReachableReason = clusterReachable(cluster, onCluster)
		for _, m := range maintenancesOf(d.maintenances, cluster.Namespace, cluster.Name) {
			row.Maintenances = append(row.Maintenances, MaintenanceRef{
				Name: m.Name, Phase: string(m.Status.Phase), Surge: m.Spec.Surge, Deleted: m.DeletionTimestamp != nil,
			})
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b ClusterRow) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return rows
}

// clusterReachable decides whether drover can reach a cluster: drover's own view (the
// ClusterReachable condition of the Prods on it) first, as it probes and acts on it;
// then Cluster API's RemoteConnectionProbe.
func clusterReachable(cluster *clusterv1.Cluster, prods []*droverv1.Prod) (status, reason string) {
	if cluster.DeletionTimestamp != nil {
		return "False", "Cluster is being deleted"
	}
	reachable := ""
	for _, p := range prods {
		c := meta.FindStatusCondition(p.Status.Conditions, droverv1.ProdClusterReachableCondition)
		if c == nil {
			continue
		}
		if c.Status == metav1.ConditionFalse {
			return "False", fmt.Sprintf("Prod %s: %s", p.Name, c.Reason)
		}
		if c.Status == metav1.ConditionTrue && reachable == "" {
			reachable = fmt.Sprintf("Prod %s: %s", p.Name, c.Reason)
		}
	}
	probe := meta.FindStatusCondition(cluster.Status.Conditions, clusterv1.ClusterRemoteConnectionProbeCondition)
	if probe != nil && probe.Status == metav1.ConditionFalse {
		return "False", "RemoteConnectionProbe: " + probe.Reason
	}
	if reachable != "" {
		return "True", reachable
	}
	if probe != nil && probe.Status == metav1.ConditionTrue {
		return "True", "RemoteConnectionProbe"
	}
	return "Unknown", "no probe reported yet"
}

// maintenancesOf returns the ClusterMaintenances of a cluster, by name.
func maintenancesOf(all []droverv1.ClusterMaintenance, ns, cluster string) []droverv1.ClusterMaintenance {
	var out []droverv1.ClusterMaintenance
	for _, m := range all {
		if m.Namespace == ns && m.Spec.ClusterName == cluster {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b droverv1.ClusterMaintenance) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func renderClusters(w io.Writer, rows []ClusterRow, withNamespace bool) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No Cluster API Clusters found.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	if withNamespace {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	fmt.Fprintln(tw, "NAME\tREACHABLE\tMAINTENANCE\tPRODS\tWEIGHT")
	for _, r := range rows {
		if withNamespace {
			fmt.Fprintf(tw, "%s\t", r.Namespace)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", r.Name, reachableText(r), maintenanceText(r.Maintenances), r.Prods, r.PublishedWeight)
	}
	_ = tw.Flush()
}

func reachableText(r ClusterRow) string {
	switch r.Reachable {
	case "True":
		return "yes"
	case "False":
		return "no (" + r.ReachableReason + ")"
	}
	return "unknown"
}

func maintenanceText(ms []MaintenanceRef) string {
	if len(ms) == 0 {
		return "-"
	}
	var parts []string
	for _, m := range ms {
		phase := m.Phase
		if phase == "" {
			phase = string(droverv1.MaintenancePending)
		}
		if m.Deleted {
			phase = "restoring"
		}
		if m.Surge {
			phase += ", surge"
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", phase, m.Name))
	}
	return strings.Join(parts, "; ")
}

// --- drain ------------------------------------------------------------------------------

func (c *cli) clusterDrainCommand() *cobra.Command {
	var (
		surge, wait, dryRun    bool
		reason, name, override string
		timeout                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "drain CLUSTER",
		Short: "Take a cluster out of traffic: create a ClusterMaintenance for it",
		Long: `Create a ClusterMaintenance for the Cluster API Cluster CLUSTER (named
<cluster>-maintenance unless --name says otherwise). drover refuses the drain while it
would leave a ProdSet below its serving minimum or break a ProdSet's safety rules
(--surge places stand-ins on other clusters first; --override-safety drains anyway, for
a reason recorded in an event), then takes every Prod on the cluster to weight 0 and
reports Drained once DNS is in sync plus one TTL.

If the cluster already has a ClusterMaintenance, no other is created; --wait waits on
it. With --wait the command follows the maintenance until it is Drained (exit 0) or
Refused (exit 2, with drover's reason; the maintenance stays, and drover starts the
drain by itself once it is safe: restore the cluster to give up).`,
		Example: `  kubectl drover cluster drain workload-2 --surge --reason "upgrade to v1.36" --wait
  kubectl drover cluster drain workload-2 --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ns, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			if name == "" {
				name = args[0] + "-maintenance"
			}
			m := &droverv1.ClusterMaintenance{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec:       droverv1.ClusterMaintenanceSpec{ClusterName: args[0], Surge: surge, Reason: reason},
			}
			if override != "" {
				if _, err := safety.Reason(override); err != nil {
					return err
				}
				m.Annotations = map[string]string{droverv1.SafetyOverrideAnnotation: override}
			}
			return c.drain(ctx, cl, m, dryRun, wait)
		},
	}
	cmd.Flags().BoolVar(&surge, "surge", false, "Place a stand-in for each of the cluster's Prods on another cluster, available, before they leave traffic.")
	cmd.Flags().StringVar(&reason, "reason", "", "A note for people (spec.reason), such as \"upgrade to v1.36\".")
	cmd.Flags().StringVar(&name, "name", "", "Name of the ClusterMaintenance (default <cluster>-maintenance).")
	cmd.Flags().StringVar(&override, "override-safety", "", "Drain even past the serving minimums and safety rules of the sets on the cluster, for this reason (the drover.dev/safety-override annotation; recorded in a SafetyOverride event).")
	cmd.Flags().BoolVar(&wait, "wait", false, "Follow the maintenance until it is Drained or Refused.")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "Say what would happen (and check it with the API server); create nothing.")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "How long --wait waits (0: no limit).")
	return cmd
}

func (c *cli) drain(ctx context.Context, cl client.Client, m *droverv1.ClusterMaintenance, dryRun, wait bool) error {
	clusterName := m.Spec.ClusterName
	cluster := &clusterv1.Cluster{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: clusterName}, cluster); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("no Cluster API Cluster %s in namespace %s (kubectl drover cluster list shows them)", clusterName, m.Namespace)
		}
		return fmt.Errorf("reading Cluster %s: %w", clusterName, err)
	}
	d, err := readClusterData(ctx, cl, m.Namespace)
	if err != nil {
		return err
	}
	if existing := maintenancesOf(d.maintenances, m.Namespace, clusterName); len(existing) > 0 {
		e := existing[0]
		fmt.Fprintf(c.Out, "cluster %s already has ClusterMaintenance %s (%s); not creating another\n", clusterName, e.Name, phaseOf(&e))
		if e.DeletionTimestamp != nil {
			return fmt.Errorf("ClusterMaintenance %s is being deleted (the cluster is being restored); drain again once it is gone", e.Name)
		}
		if e.Spec.Surge != m.Spec.Surge {
			fmt.Fprintf(c.Out, "note: it has surge=%t; surge cannot be changed on a running maintenance\n", e.Spec.Surge)
		}
		if wait && !dryRun {
			return c.waitDrained(ctx, cl, client.ObjectKeyFromObject(&e))
		}
		return nil
	}

	for _, line := range drainPreview(d, m.Namespace, clusterName, m.Spec.Surge) {
		fmt.Fprintln(c.Out, line)
	}
	if dryRun {
		if err := cl.Create(ctx, m.DeepCopy(), client.DryRunAll); err != nil {
			return fmt.Errorf("the API server refuses ClusterMaintenance %s: %w", m.Name, err)
		}
		fmt.Fprintf(c.Out, "dry run: would create ClusterMaintenance %s/%s (cluster %s, surge %t); nothing changed\n", m.Namespace, m.Name, clusterName, m.Spec.Surge)
		return nil
	}
	if err := cl.Create(ctx, m); err != nil {
		return fmt.Errorf("creating ClusterMaintenance %s: %w", m.Name, err)
	}
	fmt.Fprintf(c.Out, "created ClusterMaintenance %s/%s (cluster %s, surge %t)\n", m.Namespace, m.Name, clusterName, m.Spec.Surge)
	if !wait {
		fmt.Fprintf(c.Out, "follow with: kubectl drover cluster list, or kubectl get clustermaintenance %s -w\n", m.Name)
		return nil
	}
	return c.waitDrained(ctx, cl, client.ObjectKeyFromObject(m))
}

// drainPreview says what draining the cluster touches, and which ProdSets would fall
// below their serving minimum without it (drover decides; this is what the status says
// now).
func drainPreview(d *clusterData, ns, cluster string, surge bool) []string {
	var out, risks []string
	count := 0
	for i := range d.sets {
		set := &d.sets[i]
		if set.Namespace != ns {
			continue
		}
		var names []string
		serving := int32(0)
		for _, s := range set.Status.Prods {
			if s.Cluster != cluster {
				continue
			}
			names = append(names, fmt.Sprintf("%s (weight %s)", s.Name, int32Text(s.PublishedWeight)))
			if s.Evicted == "" && s.Available == metav1.ConditionTrue && s.PublishedWeight != nil && *s.PublishedWeight > 0 {
				serving++
			}
		}
		if len(names) == 0 {
			continue
		}
		count += len(names)
		out = append(out, fmt.Sprintf("  ProdSet %s: %s", set.Name, strings.Join(names, ", ")))
		if left := set.Status.ServingReplicas - serving; !surge && serving > 0 && left < set.Status.MinServing {
			risks = append(risks, fmt.Sprintf("  ProdSet %s would have %d serving Prods, below its minimum of %d", set.Name, left, set.Status.MinServing))
		}
	}
	for i := range d.prods {
		p := &d.prods[i]
		if p.Namespace == ns && p.Spec.ClusterRef.Name == cluster && p.Labels[droverv1.ProdSetNameLabel] == "" {
			count++
			out = append(out, fmt.Sprintf("  Prod %s (of no ProdSet)", p.Name))
		}
	}
	head := fmt.Sprintf("cluster %s: %d Prods leave traffic", cluster, count)
	if surge {
		head += ", after a stand-in for each is available on another cluster"
	}
	out = append([]string{head + ":"}, out...)
	if count == 0 {
		out = []string{fmt.Sprintf("cluster %s: no Prods on it; the drain has nothing to move", cluster)}
	}
	if len(risks) > 0 {
		out = append(out, "drover will likely refuse the drain (use --surge, or add capacity):")
		out = append(out, risks...)
	}
	return out
}

func phaseOf(m *droverv1.ClusterMaintenance) string {
	if m.Status.Phase == "" {
		return string(droverv1.MaintenancePending)
	}
	return string(m.Status.Phase)
}

// waitDrained follows a maintenance, printing a line at each change, until it is
// Drained (nil) or Refused (a refusedError with drover's reason).
func (c *cli) waitDrained(ctx context.Context, cl client.Client, key client.ObjectKey) error {
	start := c.opts.Now()
	last := ""
	tick := time.NewTicker(c.opts.PollInterval)
	defer tick.Stop()
	for {
		m := &droverv1.ClusterMaintenance{}
		err := cl.Get(ctx, key, m)
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Errorf("ClusterMaintenance %s was deleted while waiting", key.Name)
		case err == nil && m.Status.ObservedGeneration == m.Generation:
			line := maintenanceProgress(m)
			if line != last {
				fmt.Fprintf(c.Out, "%s  %s\n", c.opts.Now().Format("15:04:05"), line)
				last = line
			}
			switch m.Status.Phase {
			case droverv1.MaintenanceDrained:
				fmt.Fprintf(c.Out, "cluster %s is drained (%s); restore it with: kubectl drover cluster restore %s\n",
					m.Spec.ClusterName, c.opts.Now().Sub(start).Round(time.Second), m.Spec.ClusterName)
				return nil
			case droverv1.MaintenanceRefused:
				why := ""
				if a := meta.FindStatusCondition(m.Status.Conditions, droverv1.MaintenanceAdmittedCondition); a != nil {
					why = oneLine(a.Message)
				}
				return refused("drover refused to drain cluster %s: %s (ClusterMaintenance %s stays; drover starts the drain by itself once it is safe; kubectl drover cluster restore %s gives up)",
					m.Spec.ClusterName, why, m.Name, m.Spec.ClusterName)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ClusterMaintenance %s is not drained yet: %s (%w)", key.Name, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// maintenanceProgress is one line: the phase and the message of the condition that says
// what it waits for (or how many Prods are drained).
func maintenanceProgress(m *droverv1.ClusterMaintenance) string {
	s := phaseOf(m)
	cond := droverv1.MaintenanceAdmittedCondition
	if m.Admitted() {
		cond = droverv1.MaintenanceDrainedCondition
	}
	if c := meta.FindStatusCondition(m.Status.Conditions, cond); c != nil && c.Message != "" {
		return s + ": " + oneLine(c.Message)
	}
	if n := len(m.Status.Prods); n > 0 {
		drained := 0
		for _, p := range m.Status.Prods {
			if p.Drained {
				drained++
			}
		}
		s += fmt.Sprintf(": %d of %d Prods drained", drained, n)
	}
	return s
}

// --- restore ----------------------------------------------------------------------------

func (c *cli) clusterRestoreCommand() *cobra.Command {
	var (
		wait, dryRun bool
		timeout      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "restore CLUSTER",
		Short: "Put a drained cluster back in traffic: delete its ClusterMaintenance",
		Long: `Delete the ClusterMaintenance(s) of CLUSTER. drover gives the cluster's Prods their
weights back and takes any surge stand-ins to weight 0 in the same DNS change; the
ClusterMaintenance goes once the Prods are back in traffic, in sync in DNS. --wait
waits for that.`,
		Example: `  kubectl drover cluster restore workload-2 --wait`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ns, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			return c.restore(ctx, cl, ns, args[0], dryRun, wait)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "Wait until the cluster's Prods are back in traffic and the ClusterMaintenance is gone.")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "Say what would be deleted; delete nothing.")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "How long --wait waits (0: no limit).")
	return cmd
}

func (c *cli) restore(ctx context.Context, cl client.Client, ns, clusterName string, dryRun, wait bool) error {
	d, err := readClusterData(ctx, cl, ns)
	if err != nil {
		return err
	}
	ms := maintenancesOf(d.maintenances, ns, clusterName)
	if len(ms) == 0 {
		return fmt.Errorf("cluster %s has no ClusterMaintenance in namespace %s; nothing to restore", clusterName, ns)
	}
	standIns := 0
	for _, p := range d.prods {
		if p.Namespace == ns && p.Labels[droverv1.SurgeForLabel] == clusterName {
			standIns++
		}
	}
	for i := range ms {
		m := &ms[i]
		what := fmt.Sprintf("ClusterMaintenance %s/%s (%s)", m.Namespace, m.Name, phaseOf(m))
		if dryRun {
			fmt.Fprintf(c.Out, "dry run: would delete %s; nothing changed\n", what)
			continue
		}
		if m.DeletionTimestamp != nil {
			fmt.Fprintf(c.Out, "%s is already being deleted\n", what)
			continue
		}
		err := cl.Delete(ctx, m, client.Preconditions{UID: &m.UID})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting ClusterMaintenance %s: %w", m.Name, err)
		}
		fmt.Fprintf(c.Out, "deleted %s\n", what)
	}
	effect := fmt.Sprintf("cluster %s: its Prods get their weights back", clusterName)
	if standIns > 0 {
		effect += fmt.Sprintf(", and %d surge stand-ins leave traffic and are deleted once drained", standIns)
	}
	fmt.Fprintln(c.Out, effect)
	if dryRun || !wait {
		return nil
	}
	tick := time.NewTicker(c.opts.PollInterval)
	defer tick.Stop()
	start := c.opts.Now()
	last := ""
	for {
		list := &droverv1.ClusterMaintenanceList{}
		if err := cl.List(ctx, list, client.InNamespace(ns)); err == nil {
			left := maintenancesOf(list.Items, ns, clusterName)
			if len(left) == 0 {
				fmt.Fprintf(c.Out, "cluster %s is back in traffic (%s)\n", clusterName, c.opts.Now().Sub(start).Round(time.Second))
				return nil
			}
			line := fmt.Sprintf("waiting for the Prods on %s to be back in traffic, in sync in DNS", clusterName)
			if line != last {
				fmt.Fprintf(c.Out, "%s  %s\n", c.opts.Now().Format("15:04:05"), line)
				last = line
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s is not restored yet (%w)", clusterName, ctx.Err())
		case <-tick.C:
		}
	}
}
