package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/safety"
)

// overrideSafetyCommand sets or clears the drover.dev/safety-override annotation.
func (c *cli) overrideSafetyCommand() *cobra.Command {
	var (
		reason          string
		remove, onMaint bool
		dryRun          bool
		timeout         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "override-safety NAME (--reason REASON | --clear)",
		Short: "Let weight moves through a ProdSet's safety rules, or a drain past every set's",
		Long: `Set the drover.dev/safety-override annotation, whose value is the reason, on the
ProdSet NAME (its held moves go through while it stays), or with --maintenance on the
ClusterMaintenance NAME (its drain is admitted whatever the serving minimums and safety
rules of the sets on the cluster say). drover records each move it lets through in a
SafetyOverride event, with the reason and the field manager that set the annotation.
--clear removes it: the rules hold again.`,
		Example: `  kubectl drover override-safety shop --reason "INC-4711: eu-west is down, drain the rest by hand"
  kubectl drover override-safety eu-1-maintenance --maintenance --reason "hypervisor failing"
  kubectl drover override-safety shop --clear`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if remove == (reason != "") {
				return errors.New("give either --reason or --clear")
			}
			if !remove {
				if _, err := safety.Reason(reason); err != nil {
					return err
				}
			}
			cl, ns, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			var obj client.Object = &droverv1.ProdSet{}
			if onMaint {
				obj = &droverv1.ClusterMaintenance{}
			}
			return c.setOverride(ctx, cl, obj, client.ObjectKey{Namespace: ns, Name: args[0]}, reason, dryRun)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "Why the rules are overridden (1 to 256 printable characters); recorded with every move let through.")
	cmd.Flags().BoolVar(&remove, "clear", false, "Remove the override.")
	cmd.Flags().BoolVar(&onMaint, "maintenance", false, "NAME is a ClusterMaintenance, not a ProdSet.")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "Say what would change; change nothing.")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "How long the command may take.")
	return cmd
}

// setOverride sets the override annotation of the object at key to reason, or removes
// it when reason is "".
func (c *cli) setOverride(ctx context.Context, cl client.Client, obj client.Object, key client.ObjectKey, reason string, dryRun bool) error {
	kind := "ProdSet"
	if _, ok := obj.(*droverv1.ClusterMaintenance); ok {
		kind = "ClusterMaintenance"
	}
	if err := cl.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%s %s not found in namespace %s", kind, key.Name, key.Namespace)
		}
		return fmt.Errorf("reading %s %s: %w", kind, key.Name, err)
	}
	what := fmt.Sprintf("set %s=%q on %s %s/%s", droverv1.SafetyOverrideAnnotation, reason, kind, key.Namespace, key.Name)
	if reason == "" {
		what = fmt.Sprintf("remove %s from %s %s/%s", droverv1.SafetyOverrideAnnotation, kind, key.Namespace, key.Name)
	}
	if dryRun {
		fmt.Fprintf(c.Out, "dry run: would %s; nothing changed\n", what)
		return nil
	}
	before := obj.DeepCopyObject().(client.Object)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	if reason == "" {
		delete(ann, droverv1.SafetyOverrideAnnotation)
	} else {
		ann[droverv1.SafetyOverrideAnnotation] = reason
	}
	obj.SetAnnotations(ann)
	if err := cl.Patch(ctx, obj, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("updating %s %s: %w", kind, key.Name, err)
	}
	fmt.Fprintf(c.Out, "done: %s\n", what)
	if reason != "" {
		fmt.Fprintf(c.Out, "drover records every move it lets through in a SafetyOverride event; clear it with: kubectl drover override-safety %s --clear%s\n",
			key.Name, map[bool]string{true: " --maintenance", false: ""}[kind == "ClusterMaintenance"])
	}
	return nil
}
