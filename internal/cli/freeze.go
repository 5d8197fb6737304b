package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/freeze"
)

// FreezeRow is one Freeze or ClusterFreeze in `freezes` (and its -o json|yaml).
type FreezeRow struct {
	// Kind is Freeze or ClusterFreeze.
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Reason    string `json:"reason"`
	// Scope says what it holds: the namespace's sets (or some), namespaces, clusters.
	Scope string `json:"scope"`
	// Active: it holds now; Until when it stops (empty: until deleted), Next when an
	// inactive one holds again (empty: never).
	Active  bool   `json:"active"`
	Until   string `json:"until,omitempty"`
	Next    string `json:"next,omitempty"`
	Invalid string `json:"invalid,omitempty"`
}

// FreezeList is what `freezes -o json|yaml` prints.
type FreezeList struct {
	Freezes []FreezeRow `json:"freezes"`
}

func (c *cli) freezeCommand() *cobra.Command {
	var (
		reason, name, until string
		forDur              time.Duration
		clusterWide         bool
		clusters, nss       []string
	)
	cmd := &cobra.Command{
		Use:   "freeze [PRODSET...] --reason REASON",
		Short: "Stop the line: no rollout starts or advances until the freeze ends or is deleted",
		Long: `Create a Freeze in the namespace: while it holds, no rollout of the ProdSets named
(every ProdSet of the namespace without names) starts or advances. Rollbacks, aborts and
evictions are never held. It holds from now until --until or for --for, or until
kubectl drover unfreeze deletes it.

With --cluster-wide it creates a ClusterFreeze instead (the platform team's): every
namespace, or those --namespaces names; with --clusters (namespace/name of Cluster API
Clusters) only the Prods on those clusters are held. Recurring freezes ("no releases on
Friday evening") are written as a Freeze's spec.windows (docs/release-engineer-guide.md).`,
		RunE: func(cmd *cobra.Command, sets []string) error {
			if strings.TrimSpace(reason) == "" {
				return fmt.Errorf("--reason is required: it is shown wherever a rollout waits for the freeze")
			}
			if forDur > 0 && until != "" {
				return fmt.Errorf("--for and --until: give one")
			}
			cl, ns, err := c.client()
			if err != nil {
				return err
			}
			now := time.Now()
			t := droverv1.FreezeTime{Reason: reason}
			switch {
			case forDur > 0:
				end := metav1.NewTime(now.Add(forDur))
				t.End = &end
			case until != "":
				u, err := time.Parse(time.RFC3339, until)
				if err != nil {
					return fmt.Errorf("--until %q: want a time such as 2026-12-07T18:00:00Z: %v", until, err)
				}
				end := metav1.NewTime(u)
				t.End = &end
			}
			if name == "" {
				name = fmt.Sprintf("freeze-%d", now.Unix())
			}
			var obj client.Object
			what := ""
			if clusterWide {
				if len(sets) > 0 {
					return fmt.Errorf("a ClusterFreeze names namespaces and clusters, not ProdSets")
				}
				obj = &droverv1.ClusterFreeze{ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: droverv1.ClusterFreezeSpec{FreezeTime: t, Namespaces: nss, Clusters: clusters}}
				what = "ClusterFreeze " + name
			} else {
				if len(clusters) > 0 || len(nss) > 0 {
					return fmt.Errorf("--clusters and --namespaces need --cluster-wide")
				}
				obj = &droverv1.Freeze{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
					Spec: droverv1.FreezeSpec{FreezeTime: t, ProdSets: sets}}
				what = "Freeze " + ns + "/" + name
			}
			if err := cl.Create(cmd.Context(), obj); err != nil {
				return fmt.Errorf("creating %s: %w", what, err)
			}
			end := "until it is deleted (kubectl drover unfreeze " + name + ")"
			if t.End != nil {
				end = "until " + t.End.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(c.Out, "%s created: %s, %s\n", what, reason, end)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&reason, "reason", "", "why the line stops (required)")
	f.StringVar(&name, "name", "", "name of the freeze (default freeze-<unix time>)")
	f.DurationVar(&forDur, "for", 0, "how long it holds, such as 2h")
	f.StringVar(&until, "until", "", "when it ends, RFC 3339")
	f.BoolVar(&clusterWide, "cluster-wide", false, "create a ClusterFreeze")
	f.StringSliceVar(&nss, "namespaces", nil, "with --cluster-wide: the namespaces it holds (default every one)")
	f.StringSliceVar(&clusters, "clusters", nil, "with --cluster-wide: hold only the Prods on these clusters (namespace/name)")
	return cmd
}

func (c *cli) unfreezeCommand() *cobra.Command {
	var clusterWide bool
	cmd := &cobra.Command{
		Use:   "unfreeze NAME",
		Short: "Delete a Freeze (or, with --cluster-wide, a ClusterFreeze): the rollouts it held go on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ns, err := c.client()
			if err != nil {
				return err
			}
			var obj client.Object = &droverv1.Freeze{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: args[0]}}
			what := "Freeze " + ns + "/" + args[0]
			if clusterWide {
				obj, what = &droverv1.ClusterFreeze{ObjectMeta: metav1.ObjectMeta{Name: args[0]}}, "ClusterFreeze "+args[0]
			}
			if err := cl.Delete(cmd.Context(), obj); err != nil {
				return fmt.Errorf("deleting %s: %w", what, err)
			}
			fmt.Fprintf(c.Out, "%s deleted\n", what)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clusterWide, "cluster-wide", false, "delete a ClusterFreeze")
	return cmd
}

func (c *cli) freezesCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "freezes",
		Short: "List the Freezes of the namespace and the ClusterFreezes: whether each holds, until when",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "", "json", "yaml"); err != nil {
				return err
			}
			cl, ns, err := c.client()
			if err != nil {
				return err
			}
			list := &droverv1.FreezeList{}
			if err := cl.List(cmd.Context(), list, client.InNamespace(ns)); err != nil {
				return fmt.Errorf("listing Freezes: %w", err)
			}
			clusterList := &droverv1.ClusterFreezeList{}
			if err := cl.List(cmd.Context(), clusterList); err != nil {
				return fmt.Errorf("listing ClusterFreezes: %w", err)
			}
			view := freezeRows(list.Items, clusterList.Items, time.Now())
			return c.print(output, view, func(w io.Writer) { renderFreezes(w, view) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json or yaml")
	return cmd
}

// freezeRows judges each freeze at now.
func freezeRows(fs []droverv1.Freeze, cfs []droverv1.ClusterFreeze, now time.Time) FreezeList {
	var out FreezeList
	row := func(kind, ns, name string, t droverv1.FreezeTime, created time.Time, scope string) {
		st := freeze.At(t, created, now)
		r := FreezeRow{Kind: kind, Namespace: ns, Name: name, Reason: t.Reason, Scope: scope, Active: st.Active, Invalid: st.Invalid}
		if !st.Until.IsZero() {
			r.Until = st.Until.UTC().Format(time.RFC3339)
		}
		if !st.Next.IsZero() {
			r.Next = st.Next.UTC().Format(time.RFC3339)
		}
		out.Freezes = append(out.Freezes, r)
	}
	for _, f := range fs {
		scope := "every ProdSet of the namespace"
		if len(f.Spec.ProdSets) > 0 {
			scope = "ProdSets " + strings.Join(f.Spec.ProdSets, ", ")
		}
		row("Freeze", f.Namespace, f.Name, f.Spec.FreezeTime, f.CreationTimestamp.Time, scope)
	}
	for _, f := range cfs {
		scope := "every namespace"
		if len(f.Spec.Namespaces) > 0 {
			scope = "namespaces " + strings.Join(f.Spec.Namespaces, ", ")
		}
		if len(f.Spec.Clusters) > 0 {
			scope += "; only Prods on " + strings.Join(f.Spec.Clusters, ", ")
		}
		row("ClusterFreeze", "", f.Name, f.Spec.FreezeTime, f.CreationTimestamp.Time, scope)
	}
	slices.SortStableFunc(out.Freezes, func(a, b FreezeRow) int {
		return strings.Compare(a.Kind+"/"+a.Namespace+"/"+a.Name, b.Kind+"/"+b.Namespace+"/"+b.Name)
	})
	return out
}

func renderFreezes(w io.Writer, l FreezeList) {
	if len(l.Freezes) == 0 {
		fmt.Fprintln(w, "no freezes")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tHOLDS\tUNTIL / NEXT\tSCOPE\tREASON")
	for _, r := range l.Freezes {
		name := r.Name
		if r.Namespace != "" {
			name = r.Namespace + "/" + r.Name
		}
		holds, when := "no", "-"
		switch {
		case r.Invalid != "":
			holds, when = "yes (invalid: "+r.Invalid+")", "until fixed"
		case r.Active && r.Until == "":
			holds, when = "yes", "until deleted"
		case r.Active:
			holds, when = "yes", r.Until
		case r.Next != "":
			when = "next " + r.Next
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Kind, name, holds, when, r.Scope, r.Reason)
	}
	_ = tw.Flush()
}
