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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// HistoryView is what kubectl drover history shows: a set's Releases, newest first.
type HistoryView struct {
	Namespace string             `json:"namespace"`
	ProdSet   string             `json:"prodSet"`
	Releases  []droverv1.Release `json:"releases"`
}

func (c *cli) historyCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "history PRODSET [REVISION|RELEASE]",
		Short: "Show a ProdSet's releases: who started each rollout, its steps, gates and how it ended",
		Long: `Show the Releases of a ProdSet, the record drover keeps of each rollout, newest
first: the revision and version, who changed the template (the field manager: a hint,
the API server's audit log says which user), when it started, how long it took and how
it ended (Completed, RolledBack and why, Aborted and by whom, Superseded).

With a revision (or its first characters) or a Release's name, show that rollout step
by step: each step's Prods with their clusters and the weight DNS gave them when the
step ended, the gates' verdicts with their numbers, and the commands given.

A set keeps its latest spec.releaseHistoryLimit Releases (20 by default).`,
		Example: `  kubectl drover history shop
  kubectl drover history shop 6d5f7c9b8
  kubectl drover history shop -o json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "", "json", "yaml"); err != nil {
				return err
			}
			cl, ns, err := c.client()
			if err != nil {
				return err
			}
			v, err := loadHistory(cmd.Context(), cl, ns, args[0])
			if err != nil {
				return err
			}
			if len(args) == 2 {
				rel := pickRelease(v.Releases, args[1])
				if rel == nil {
					return refused("ProdSet %s/%s has no Release of revision or name %q (kubectl drover history %s lists them)", ns, args[0], args[1], args[0])
				}
				v.Releases = []droverv1.Release{*rel}
				return c.print(output, v, func(w io.Writer) { renderRelease(w, rel, c.opts.Now()) })
			}
			return c.print(output, v, func(w io.Writer) { renderHistory(w, v, c.opts.Now()) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml (default: a table, or the steps of one release).")
	return cmd
}

// loadHistory reads the Releases of the ProdSet name, newest first.
func loadHistory(ctx context.Context, cl client.Client, ns, name string) (HistoryView, error) {
	v := HistoryView{Namespace: ns, ProdSet: name}
	set := &droverv1.ProdSet{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, set); err != nil {
		if apierrors.IsNotFound(err) {
			return v, refused("ProdSet %s/%s not found", ns, name)
		}
		return v, fmt.Errorf("reading ProdSet %s/%s: %w", ns, name, err)
	}
	list := &droverv1.ReleaseList{}
	if err := cl.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{droverv1.ProdSetNameLabel: name}); err != nil {
		return v, fmt.Errorf("listing the Releases of ProdSet %s/%s: %w", ns, name, err)
	}
	for _, rel := range list.Items {
		// Only the set's own records: a Release that merely carries the label is not one.
		if !metav1.IsControlledBy(&rel, set) {
			continue
		}
		rel.ManagedFields = nil
		v.Releases = append(v.Releases, rel)
	}
	slices.SortStableFunc(v.Releases, func(a, b droverv1.Release) int {
		if c := b.StartedTime.Compare(a.StartedTime.Time); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	if v.Releases == nil {
		v.Releases = []droverv1.Release{}
	}
	return v, nil
}

// pickRelease is the Release named key, or else the newest of the revision key starts.
func pickRelease(rels []droverv1.Release, key string) *droverv1.Release {
	for i := range rels {
		if rels[i].Name == key {
			return &rels[i]
		}
	}
	for i := range rels {
		if strings.HasPrefix(rels[i].Revision, key) {
			return &rels[i]
		}
	}
	return nil
}

// outcomeText is how a release ended, or its phase while it runs.
func outcomeText(rel *droverv1.Release) string {
	if rel.Outcome == "" {
		return string(rel.Phase)
	}
	s := string(rel.Outcome)
	if rel.EndedBy != "" {
		s += " by " + oneLine(rel.EndedBy)
	}
	return s
}

// tookText is how long the release ran, or has run so far.
func tookText(rel *droverv1.Release, now time.Time) string {
	end := now
	if rel.FinishedTime != nil {
		end = rel.FinishedTime.Time
	}
	d := end.Sub(rel.StartedTime.Time).Round(time.Second)
	if rel.FinishedTime == nil {
		return d.String() + " so far"
	}
	return d.String()
}

func renderHistory(w io.Writer, v HistoryView, now time.Time) {
	if len(v.Releases) == 0 {
		fmt.Fprintf(w, "ProdSet %s/%s has no Releases: it has not rolled out through a RolloutPolicy since drover kept them\n", v.Namespace, v.ProdSet)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tVERSION\tSTARTED\tBY\tTOOK\tSTEPS\tOUTCOME\tMESSAGE")
	for i := range v.Releases {
		rel := &v.Releases[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", short(rel.Revision), orDash(oneLine(rel.Version)),
			rel.StartedTime.UTC().Format(time.RFC3339), orDash(oneLine(rel.StartedBy)), tookText(rel, now), len(rel.Steps),
			outcomeText(rel), cutText(oneLine(rel.Message), 80))
	}
	_ = tw.Flush()
}

func renderRelease(w io.Writer, rel *droverv1.Release, now time.Time) {
	fmt.Fprintf(w, "Release %s of ProdSet %s\n", rel.Name, rel.ProdSet)
	fmt.Fprintf(w, "  revision %s (version %s), from %s, policy %s\n", rel.Revision, orDash(oneLine(rel.Version)), orDash(rel.PreviousRevision), orDash(rel.Policy))
	fmt.Fprintf(w, "  started %s by %s, took %s\n", rel.StartedTime.UTC().Format(time.RFC3339), orDash(oneLine(rel.StartedBy)), tookText(rel, now))
	fmt.Fprintf(w, "  %s", outcomeText(rel))
	if rel.Message != "" {
		fmt.Fprintf(w, ": %s", oneLine(rel.Message))
	}
	fmt.Fprintln(w)
	if rel.RollbackLatency != nil {
		fmt.Fprintf(w, "  rollback submitted to DNS %s after the failure\n", rel.RollbackLatency.Duration)
	}
	for _, s := range rel.Steps {
		end := "running"
		if s.FinishedTime != nil {
			end = s.FinishedTime.Sub(s.StartedTime.Time).Round(time.Second).String()
		}
		fmt.Fprintf(w, "  step %d %s: started %s, %s\n", s.Index+1, orDash(oneLine(s.Name)), s.StartedTime.UTC().Format(time.RFC3339), end)
		for _, p := range s.Prods {
			line := fmt.Sprintf("    prod %s on %s, weight %s", p.Name, orDash(p.Cluster), int32Text(p.Weight))
			if p.Replacement != "" {
				line += ", replaced by " + p.Replacement
			}
			if p.Failed {
				line += ", missed its deadline"
			}
			fmt.Fprintln(w, line)
		}
		for _, g := range s.Gates {
			verdict := "✓ passed"
			switch {
			case g.Inconclusive:
				verdict = "? inconclusive"
			case !g.Passed:
				verdict = "✗ failed"
			}
			line := fmt.Sprintf("    gate %d %s: %s at %s", g.Gate+1, g.Type, verdict, g.Time.UTC().Format(time.RFC3339))
			if g.Message != "" && g.Baseline == nil {
				line += " (" + oneLine(g.Message) + ")"
			}
			fmt.Fprintln(w, line)
			renderJudgement(w, "   ", g.Baseline)
		}
	}
	for _, c := range rel.Commands {
		fmt.Fprintf(w, "  command %s at step %d by %s, %s\n", c.Command, c.Step+1, orDash(oneLine(c.By)), c.Time.UTC().Format(time.RFC3339))
	}
}

// cutText cuts s to n runes, ending in "…" when cut.
func cutText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
