package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/internal/leftovers"
)

// LeftoverRow is one thing a released Prod or ProdSet left behind, in `leftovers`.
type LeftoverRow struct {
	Namespace string `json:"namespace"`
	// Object is "Prod/<name>" or "ProdSet/<name>".
	Object    string    `json:"object"`
	UID       string    `json:"uid"`
	Finalizer string    `json:"finalizer"`
	Released  time.Time `json:"released"`
	Reason    string    `json:"reason,omitempty"`
	// Left is what may still exist, one item each.
	Left []string `json:"left"`
}

// LeftoverList is what `leftovers -o json|yaml` prints.
type LeftoverList struct {
	Leftovers []LeftoverRow `json:"leftovers"`
}

func (c *cli) leftoversCommand() *cobra.Command {
	var output, managerNamespace string
	cmd := &cobra.Command{
		Use:   "leftovers",
		Short: "List what released Prods and ProdSets left behind in the clouds and workload clusters",
		Long: `List what drover left behind when it let a deleted Prod or ProdSet go without cleaning
up (the annotation drover.dev/release-finalizers=true, for cloud resources or workload
objects it could no longer reach): NLBs, target groups, Route53 record sets, workload
objects. The records are ConfigMaps labelled drover.dev/leftovers=true in the manager's
namespace; delete one once what it lists is cleaned up.

  NAMESPACE  OBJECT  FINALIZER  RELEASED  LEFT (one line per item)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "", "json", "yaml"); err != nil {
				return err
			}
			cl, _, err := c.client()
			if err != nil {
				return err
			}
			recs, err := leftovers.List(cmd.Context(), cl, managerNamespace)
			if err != nil {
				return fmt.Errorf("listing the leftovers records in namespace %s: %w", managerNamespace, err)
			}
			rows := leftoverRows(recs)
			return c.print(output, LeftoverList{Leftovers: rows}, func(w io.Writer) { renderLeftovers(w, rows, c.opts.Now()) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml (default: a table).")
	cmd.Flags().StringVar(&managerNamespace, "manager-namespace", "drover-system", "The drover manager's namespace, where the records are kept.")
	return cmd
}

func leftoverRows(recs []leftovers.Record) []LeftoverRow {
	rows := make([]LeftoverRow, 0, len(recs))
	for _, r := range recs {
		rows = append(rows, LeftoverRow{
			Namespace: r.Namespace, Object: r.Kind + "/" + r.Name, UID: r.UID, Finalizer: r.Finalizer,
			Released: r.Released, Reason: r.Reason, Left: r.Left,
		})
	}
	return rows
}

// renderLeftovers writes the table: one line per item left, the object's columns on
// its first line only.
func renderLeftovers(w io.Writer, rows []LeftoverRow, now time.Time) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "Nothing was left behind.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tOBJECT\tFINALIZER\tRELEASED\tLEFT")
	for _, r := range rows {
		left := r.Left
		if len(left) == 0 {
			left = []string{"-"}
		}
		when := "?"
		if !r.Released.IsZero() {
			when = shortDuration(now.Sub(r.Released)) + " ago"
		}
		for i, item := range left {
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.Object, r.Finalizer, when, item)
				continue
			}
			fmt.Fprintf(tw, "\t\t\t\t%s\n", item)
		}
	}
	_ = tw.Flush()
}

// shortDuration is d as kubectl's AGE column writes it, roughly: 45s, 12m, 5h, 3d.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(max(d, 0)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return strings.TrimSpace(fmt.Sprintf("%dd", int(d/(24*time.Hour))))
}
