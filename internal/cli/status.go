package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func (c *cli) statusCommand() *cobra.Command {
	var (
		output        string
		watch, allNss bool
	)
	cmd := &cobra.Command{
		Use:   "status [PRODSET]",
		Short: "Show ProdSets as a tree: revision, rollout, and each Prod's cluster, version, weight and health",
		Long: `Show a ProdSet (or every ProdSet of the namespace, and the Prods of no ProdSet) as a
tree: its revisions, its rollout's phase and step and what it waits for, the current
step's gates, then each Prod with its cluster, version, desired/published weight,
conditions at a glance and its load balancer paths (Octavia VIP, NLB, mirror sync).

Condition markers: R ClusterReachable, Ap Applied, Av Available, T TrafficReady,
M MirrorSynced, each ✓ (True), ✗ (False), ? (Unknown) or - (not set). Conditions that
are not True are spelled out under the Prod.`,
		Example: `  kubectl drover status shop
  kubectl drover status shop --watch
  kubectl drover status -n shop-prod -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "", "json", "yaml"); err != nil {
				return err
			}
			cl, ns, err := c.client()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
				if allNss {
					return errors.New("a ProdSet name cannot be combined with --all-namespaces")
				}
			}
			if allNss {
				ns = ""
			}
			get := func(ctx context.Context) (StatusView, error) { return loadStatus(ctx, cl, ns, name) }
			if !watch {
				v, err := get(cmd.Context())
				if err != nil {
					return err
				}
				return c.print(output, v, func(w io.Writer) { renderStatus(w, v, c.opts.Now()) })
			}
			return c.watch(cmd.Context(), func(ctx context.Context, w io.Writer) error {
				v, err := get(ctx)
				if err != nil {
					return err
				}
				return c.printTo(w, output, v, func(w io.Writer) { renderStatus(w, v, c.opts.Now()) })
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml (default: the tree).")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "Redraw when anything shown changes (in place on a terminal; appended otherwise). Stop with Ctrl-C.")
	cmd.Flags().BoolVarP(&allNss, "all-namespaces", "A", false, "Show the ProdSets of every namespace.")
	return cmd
}

// loadStatus reads the ProdSets (one when name is set) of namespace ns ("" for all),
// their Prods and policies, and joins them.
func loadStatus(ctx context.Context, cl client.Client, ns, name string) (StatusView, error) {
	var sets []droverv1.ProdSet
	if name != "" {
		set := &droverv1.ProdSet{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, set); err != nil {
			if apierrors.IsNotFound(err) {
				return StatusView{}, fmt.Errorf("ProdSet %s not found in namespace %s", name, ns)
			}
			return StatusView{}, fmt.Errorf("reading ProdSet %s/%s: %w", ns, name, err)
		}
		sets = append(sets, *set)
	} else {
		list := &droverv1.ProdSetList{}
		if err := cl.List(ctx, list, client.InNamespace(ns)); err != nil {
			return StatusView{}, fmt.Errorf("listing ProdSets: %w", err)
		}
		sets = list.Items
	}
	prods := &droverv1.ProdList{}
	if err := cl.List(ctx, prods, client.InNamespace(ns)); err != nil {
		return StatusView{}, fmt.Errorf("listing Prods: %w", err)
	}
	policies := map[client.ObjectKey]*droverv1.RolloutPolicy{}
	v := StatusView{ProdSets: []SetView{}}
	slices.SortFunc(sets, func(a, b droverv1.ProdSet) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	for i := range sets {
		set := &sets[i]
		var mine []droverv1.Prod
		for _, p := range prods.Items {
			if p.Namespace == set.Namespace && p.Labels[droverv1.ProdSetNameLabel] == set.Name {
				mine = append(mine, p)
			}
		}
		var policy *droverv1.RolloutPolicy
		if ref := set.Spec.RolloutPolicyRef; ref != nil {
			key := client.ObjectKey{Namespace: set.Namespace, Name: ref.Name}
			var ok bool
			if policy, ok = policies[key]; !ok {
				policy = &droverv1.RolloutPolicy{}
				if err := cl.Get(ctx, key, policy); err != nil {
					if !apierrors.IsNotFound(err) {
						return StatusView{}, fmt.Errorf("reading RolloutPolicy %s: %w", key, err)
					}
					policy = nil // RolledOut says PolicyNotFound
				}
				policies[key] = policy
			}
		}
		v.ProdSets = append(v.ProdSets, buildSetView(set, mine, policy))
	}
	if name == "" {
		for i := range prods.Items {
			p := &prods.Items[i]
			if p.Labels[droverv1.ProdSetNameLabel] == "" {
				v.Prods = append(v.Prods, prodView(p, nil))
			}
		}
	}
	return v, nil
}

func checkOutput(output string, allowed ...string) error {
	if slices.Contains(allowed, output) {
		return nil
	}
	var names []string
	for _, a := range allowed {
		if a != "" {
			names = append(names, a)
		}
	}
	return fmt.Errorf("--output %q is not supported here; use %s", output, strings.Join(names, " or "))
}

// print writes v as json or yaml, or with human when output is "".
func (c *cli) print(output string, v any, human func(io.Writer)) error {
	return c.printTo(c.Out, output, v, human)
}

func (c *cli) printTo(w io.Writer, output string, v any, human func(io.Writer)) error {
	switch output {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	human(cleanWriter{w}) // what a tenant wrote reaches no terminal as an escape sequence
	return nil
}

// clearScreen moves the cursor home and clears the terminal.
const clearScreen = "\x1b[H\x1b[2J"

// watch renders every PollInterval until ctx ends, and writes a render only when it
// differs from the last: on a terminal it redraws in place, otherwise it appends (with
// a separator line), so a log gets one entry per change. A failed read is shown and
// retried.
func (c *cli) watch(ctx context.Context, render func(context.Context, io.Writer) error) error {
	var last string
	tick := time.NewTicker(c.opts.PollInterval)
	defer tick.Stop()
	terminal := c.terminal()
	first := true
	for {
		var buf bytes.Buffer
		if err := render(ctx, &buf); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			buf.Reset()
			fmt.Fprintf(&buf, "error: %v (retrying)\n", err)
		}
		if s := buf.String(); s != last {
			last = s
			switch {
			case terminal:
				fmt.Fprint(c.Out, clearScreen)
			case !first:
				fmt.Fprintf(c.Out, "--- %s\n", c.opts.Now().Format(time.RFC3339))
			}
			fmt.Fprint(c.Out, s)
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			// Both may be ready: an ended watch renders nothing more.
			if ctx.Err() != nil {
				return nil
			}
		}
	}
}
