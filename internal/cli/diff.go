package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// differencesError says a diff found differences: the plugin exits 1, as kubectl diff
// does, without calling it an error.
type differencesError struct{}

func (differencesError) Error() string { return "the candidate differs from what runs" }

// diffFailedError is a diff that could not be made: the plugin exits 2 (kubectl diff
// exits above 1 on an error), so a script can tell it from differences.
type diffFailedError struct{ err error }

func (e *diffFailedError) Error() string { return e.err.Error() }
func (e *diffFailedError) Unwrap() error { return e.err }

func (c *cli) diffCommand() *cobra.Command {
	var (
		file, output string
		timeout      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "diff PRODSET [-f CANDIDATE.yaml]",
		Short: "Show what a new revision of a ProdSet would change on each Prod's workload cluster",
		Long: `Show, per Prod and workload cluster, what the ProdSet's current template (or with -f
the template of a candidate ProdSet manifest of the same name) would change there:
each object to create, update, delete (prune), leave unchanged, or that drover would
refuse to apply (someone else's object, a kind or namespace the tenancy refuses), with a
unified diff of the live object and the API server's server-side dry-run result.

The plugin creates a ReleaseDiff; drover's manager computes it, as the identity each
Prod applies as, under the same ownership and tenancy rules as a real apply, and writes
nothing to a workload cluster. The plugin deletes the ReleaseDiff when done (the manager
deletes any left after 10 minutes). Secret values are never shown, only whether they
change; neither is anything of an object drover would not take over.

Exit status, as kubectl diff: 0 no differences, 1 differences (or a Prod that could not
be diffed), 2 the diff could not be made.`,
		Example: `  kubectl drover diff shop
  kubectl drover diff shop -f shop-v2.yaml
  kubectl drover diff shop -f shop-v2.yaml -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" {
				return &diffFailedError{fmt.Errorf("-o %q: only json is supported (the default prints the diff)", output)}
			}
			var template *droverv1.ProdTemplate
			if file != "" {
				t, err := readCandidate(c.In, file, args[0])
				if err != nil {
					return &diffFailedError{err}
				}
				template = t
			}
			cl, ns, err := c.client()
			if err != nil {
				return &diffFailedError{err}
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			d, err := c.runDiff(ctx, cl, client.ObjectKey{Namespace: ns, Name: args[0]}, template)
			if err != nil {
				return &diffFailedError{err}
			}
			if output == "json" {
				enc := json.NewEncoder(c.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(d); err != nil {
					return &diffFailedError{err}
				}
			} else {
				printDiff(c.Out, d)
			}
			if s := meta.FindStatusCondition(d.Status.Conditions, droverv1.StalledCondition); s != nil {
				return &diffFailedError{errors.New(s.Message)}
			}
			if d.Status.Changes {
				return differencesError{}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "A candidate ProdSet manifest (YAML or JSON) of the same name, whose spec.template is diffed; - reads standard input.")
	cmd.Flags().StringVarP(&output, "output", "o", "", "json: print the ReleaseDiff as JSON instead of the diff.")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "How long to wait for the diff (the manager gives one at most 2m).")
	return cmd
}

// readCandidate reads the template of a candidate ProdSet manifest named set.
func readCandidate(stdin io.Reader, file, set string) (*droverv1.ProdTemplate, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the candidate: %w", err)
	}
	candidate := &droverv1.ProdSet{}
	if err := yaml.UnmarshalStrict(data, candidate); err != nil {
		return nil, fmt.Errorf("%s is not a ProdSet manifest: %w", file, err)
	}
	if candidate.Kind != "ProdSet" {
		return nil, fmt.Errorf("%s holds a %q, not a ProdSet", file, candidate.Kind)
	}
	if candidate.Name != set {
		return nil, fmt.Errorf("%s is ProdSet %q, not %q: a candidate is diffed against the ProdSet of its name", file, candidate.Name, set)
	}
	if len(candidate.Spec.Template.Spec.Manifests) == 0 {
		return nil, fmt.Errorf("%s has no spec.template.spec.manifests", file)
	}
	return &candidate.Spec.Template, nil
}

// runDiff creates a ReleaseDiff of the set at key, waits until drover completed it and
// deletes it again (even when the wait ended first).
func (c *cli) runDiff(ctx context.Context, cl client.Client, key client.ObjectKey, template *droverv1.ProdTemplate) (*droverv1.ReleaseDiff, error) {
	set := &droverv1.ProdSet{}
	if err := cl.Get(ctx, key, set); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("ProdSet %s not found in namespace %s", key.Name, key.Namespace)
		}
		return nil, fmt.Errorf("reading ProdSet %s: %w", key, err)
	}
	d := &droverv1.ReleaseDiff{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, GenerateName: generateName(key.Name)},
		Spec:       droverv1.ReleaseDiffSpec{ProdSet: key.Name, Template: template},
	}
	if err := cl.Create(ctx, d); err != nil {
		return nil, fmt.Errorf("creating a ReleaseDiff of ProdSet %s: %w", key, err)
	}
	defer func() {
		// The wait may have ended with ctx: the delete gets a moment of its own.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := cl.Delete(dctx, d); err != nil && !apierrors.IsNotFound(err) {
			fmt.Fprintf(c.ErrOut, "warning: deleting ReleaseDiff %s/%s: %v (drover deletes it after 10 minutes)\n", d.Namespace, d.Name, err)
		}
	}()
	tick := time.NewTicker(c.opts.PollInterval)
	defer tick.Stop()
	for {
		got := &droverv1.ReleaseDiff{}
		if err := cl.Get(ctx, client.ObjectKeyFromObject(d), got); err != nil {
			return nil, fmt.Errorf("reading ReleaseDiff %s/%s: %w", d.Namespace, d.Name, err)
		}
		if got.Status.CompletedTime != nil {
			return got, nil
		}
		select {
		case <-ctx.Done():
			why := "drover has not picked it up (is the manager running?)"
			if r := meta.FindStatusCondition(got.Status.Conditions, droverv1.ReadyCondition); r != nil {
				why = r.Message
			}
			return nil, fmt.Errorf("ReleaseDiff %s/%s did not complete in time: %s", d.Namespace, d.Name, why)
		case <-tick.C:
		}
	}
}

// generateName is "<set>-diff-", the set's name shortened so the name the API server
// makes of it (5 more characters) stays within 63.
func generateName(set string) string {
	const suffix = "-diff-"
	if limit := 63 - 5 - len(suffix); len(set) > limit {
		set = strings.TrimRight(set[:limit], "-.")
	}
	return set + suffix
}

// printDiff writes a ReleaseDiff as kubectl diff would, per Prod and cluster.
// printDiff writes d as kubectl diff would, with control characters (which a tenant's
// manifests may hold, and its receiver's messages) made harmless (clean).
func printDiff(w io.Writer, d *droverv1.ReleaseDiff) {
	w = cleanWriter{w}
	fmt.Fprintf(w, "ProdSet %s/%s, candidate revision %s\n", d.Namespace, d.Spec.ProdSet, d.Status.Revision)
	for _, p := range d.Status.Prods {
		fmt.Fprintf(w, "\n=== Prod %s on cluster %s (runs revision %s)\n", p.Name, p.Cluster, orNone(p.Revision))
		if p.Message != "" {
			fmt.Fprintf(w, "not diffed: %s\n", p.Message)
			continue
		}
		for _, o := range p.Objects {
			name := o.Name
			if o.Namespace != "" {
				name = o.Namespace + "/" + name
			}
			fmt.Fprintf(w, "%-9s %s %s %s", o.Action, o.APIVersion, o.Kind, name)
			if o.Reason != "" {
				fmt.Fprintf(w, ": %s", o.Reason)
			}
			if o.Message != "" {
				fmt.Fprintf(w, ": %s", o.Message)
			}
			fmt.Fprintln(w)
			if o.Diff != "" {
				fmt.Fprint(w, o.Diff)
				if !strings.HasSuffix(o.Diff, "\n") {
					fmt.Fprintln(w)
				}
			}
			if o.DiffTruncated {
				fmt.Fprintln(w, "(diff cut: too long to show whole)")
			}
		}
	}
	fmt.Fprintln(w)
	if r := meta.FindStatusCondition(d.Status.Conditions, droverv1.ReadyCondition); r != nil && r.Message != "" {
		fmt.Fprintln(w, r.Message)
	}
	if d.Status.Truncated {
		fmt.Fprintln(w, "the diff was cut to keep it small: some objects or diffs are left out")
	}
	if !d.Status.Changes {
		fmt.Fprintln(w, "no differences")
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
