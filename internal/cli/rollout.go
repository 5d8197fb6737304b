package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// rolloutVerbs are the rollout commands, in the order help lists them.
var rolloutVerbs = []struct{ word, short string }{
	{"promote", "Pass the current step's gates that have not passed (approval, pause, running checks)"},
	{"pause", "Hold the rollout: Prods in flight finish their move, no new Prod is picked"},
	{"resume", "Continue a paused rollout"},
	{"abort", "Stop the rollout and return the traffic to the previous revision"},
	{"rollback", "Return to the previous revision (also within a Replace rollout's rollbackWindow)"},
}

func (c *cli) rolloutCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Steer a ProdSet's rollout: promote, pause, resume, abort, rollback",
		Long: `Steer a ProdSet's rollout. Each verb sets the annotation
drover.dev/rollout-command=<verb>@<time> on the ProdSet, which drover reads once.

The plugin first checks the ProdSet's status and refuses a command that would be
ignored now (resume when not Paused, rollback after an InPlace rollout finished, ...),
saying why; --force sends it anyway, and drover then decides (a CommandIgnored event
says why it did not act).`,
	}
	for _, v := range rolloutVerbs {
		cmd.AddCommand(c.rolloutVerb(v.word, v.short))
	}
	return cmd
}

func (c *cli) rolloutVerb(word, short string) *cobra.Command {
	var (
		dryRun, force, wait bool
		timeout             time.Duration
	)
	cmd := &cobra.Command{
		Use:     word + " PRODSET",
		Short:   short,
		Example: fmt.Sprintf("  kubectl drover rollout %s shop\n  kubectl drover rollout %s shop --dry-run", word, word),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ns, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := withTimeout(cmd.Context(), timeout)
			defer cancel()
			return c.sendCommand(ctx, cl, client.ObjectKey{Namespace: ns, Name: args[0]}, word, sendOptions{dryRun: dryRun, force: force, wait: wait})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "Say what the command would do; change nothing.")
	cmd.Flags().BoolVar(&force, "force", false, "Send the command even when the status says it does not apply now (drover then decides).")
	cmd.Flags().BoolVar(&wait, "wait", false, "Wait until drover has read the command, then show the rollout.")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "How long --wait waits (0: no limit).")
	return cmd
}

type sendOptions struct{ dryRun, force, wait bool }

// sendCommand checks word against the set's status, then writes the annotation.
// A conflict (the set changed since it was read) reads and checks again.
func (c *cli) sendCommand(ctx context.Context, cl client.Client, key client.ObjectKey, word string, o sendOptions) error {
	for attempt := 0; ; attempt++ {
		set := &droverv1.ProdSet{}
		if err := cl.Get(ctx, key, set); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("ProdSet %s not found in namespace %s", key.Name, key.Namespace)
			}
			return fmt.Errorf("reading ProdSet %s: %w", key, err)
		}
		var policy *droverv1.RolloutPolicy
		if ref := set.Spec.RolloutPolicyRef; ref != nil {
			policy = &droverv1.RolloutPolicy{}
			if err := cl.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: ref.Name}, policy); err != nil {
				if !apierrors.IsNotFound(err) {
					return fmt.Errorf("reading RolloutPolicy %s: %w", ref.Name, err)
				}
				policy = nil
			}
		}
		now := c.opts.Now()
		effect, checkErr := checkCommand(word, set, policy, now)
		if attempt == 0 {
			fmt.Fprintf(c.Out, "ProdSet %s/%s: %s\n", set.Namespace, set.Name, rolloutSummary(set, policy))
		}
		if checkErr != nil {
			if !o.force {
				return checkErr
			}
			if attempt == 0 {
				fmt.Fprintf(c.Out, "%s does not apply now (%v); sending it anyway (--force): drover decides, and says so in a CommandIgnored event if it does not act\n", word, checkErr)
			}
		} else if attempt == 0 {
			fmt.Fprintf(c.Out, "%s: %s\n", word, effect)
		}
		value := commandValue(word, now)
		if o.dryRun {
			fmt.Fprintf(c.Out, "dry run: would set %s=%s on ProdSet %s/%s; nothing changed\n", droverv1.RolloutCommandAnnotation, value, set.Namespace, set.Name)
			return nil
		}
		before := set.DeepCopy()
		if set.Annotations == nil {
			set.Annotations = map[string]string{}
		}
		set.Annotations[droverv1.RolloutCommandAnnotation] = value
		err := cl.Patch(ctx, set, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		if apierrors.IsConflict(err) && attempt < 3 {
			continue // the set changed since it was read: check again
		}
		if err != nil {
			return fmt.Errorf("setting %s on ProdSet %s: %w", droverv1.RolloutCommandAnnotation, key, err)
		}
		fmt.Fprintf(c.Out, "set %s=%s on ProdSet %s/%s\n", droverv1.RolloutCommandAnnotation, value, set.Namespace, set.Name)
		if !o.wait {
			fmt.Fprintf(c.Out, "drover acts on it at its next reconcile; follow with: kubectl drover status %s\n", set.Name)
			return nil
		}
		return c.waitCommandRead(ctx, cl, key, value)
	}
}

// waitCommandRead waits until drover recorded value as read, then shows the rollout.
func (c *cli) waitCommandRead(ctx context.Context, cl client.Client, key client.ObjectKey, value string) error {
	tick := time.NewTicker(c.opts.PollInterval)
	defer tick.Stop()
	for {
		set := &droverv1.ProdSet{}
		if err := cl.Get(ctx, key, set); err == nil && set.Status.ObservedRolloutCommand == value {
			fmt.Fprintf(c.Out, "drover read %s; rollout now: %s\n", value, rolloutSummary(set, nil))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drover has not read %s yet (%w); is the manager running and the set's RolloutPolicy valid?", value, ctx.Err())
		case <-tick.C:
		}
	}
}

// commandValue is the annotation's value: the word and the time, unique per command.
func commandValue(word string, now time.Time) string {
	return word + "@" + now.UTC().Format("2006-01-02T15:04:05.000Z")
}

// rolloutSummary says where the set's rollout is, in one line.
func rolloutSummary(set *droverv1.ProdSet, policy *droverv1.RolloutPolicy) string {
	ro := set.Status.Rollout
	if ro == nil {
		if set.Spec.RolloutPolicyRef == nil {
			return "no RolloutPolicy; no rollout"
		}
		return "no rollout yet"
	}
	rv := &RolloutView{Step: ro.Step, StepName: ro.StepName}
	if policy != nil {
		rv.Steps = len(policy.Spec.Steps)
	}
	s := fmt.Sprintf("rollout of %s (from %s) is %s", short(ro.Revision), short(ro.PreviousRevision), ro.Phase)
	if ro.Phase == droverv1.RolloutProgressing || ro.Phase == droverv1.RolloutPaused {
		s += " at " + stepText(rv)
	}
	if ro.Message != "" {
		s += ": " + oneLine(ro.Message)
	}
	return s
}

// checkCommand mirrors the rules drover applies to a rollout command (see
// controllers/prodset's command and internal/rollout's Next): it returns what the
// command will do, or a refusedError saying why drover would ignore it now.
func checkCommand(word string, set *droverv1.ProdSet, policy *droverv1.RolloutPolicy, now time.Time) (string, error) {
	if set.Spec.RolloutPolicyRef == nil {
		return "", refused("ProdSet %s has no rolloutPolicyRef: without a RolloutPolicy every Prod updates at once and there is no rollout to steer", set.Name)
	}
	if c := meta.FindStatusCondition(set.Status.Conditions, droverv1.ProdSetRolledOutCondition); c != nil {
		switch c.Reason {
		case droverv1.ProdSetPolicyNotFoundReason, droverv1.ProdSetPolicyInvalidReason, droverv1.ProdSetPolicyUnsupportedReason:
			return "", refused("drover reads commands only while the set's RolloutPolicy exists and is valid: %s", oneLine(c.Message))
		}
	}
	if policy == nil {
		return "", refused("RolloutPolicy %s not found: drover reads commands only while the set's policy exists", set.Spec.RolloutPolicyRef.Name)
	}
	if v := set.Annotations[droverv1.RolloutCommandAnnotation]; v != "" && v != set.Status.ObservedRolloutCommand {
		return "", refused("the command %s was not read by drover yet; a new one would replace it (wait a moment, or --force)", v)
	}
	ro := set.Status.Rollout
	if ro == nil {
		return "", refused("ProdSet %s has no rollout yet", set.Name)
	}
	if set.Status.CurrentRevision != "" && ro.Revision != set.Status.CurrentRevision {
		return "", refused("the template changed to revision %s; its rollout starts at the next reconcile, and a command now would be ignored (try again in a moment)", short(set.Status.CurrentRevision))
	}
	step := fmt.Sprintf("step %d", ro.Step+1)
	if ro.StepName != "" {
		step += " (" + ro.StepName + ")"
	}
	active := ro.Phase == droverv1.RolloutProgressing || ro.Phase == droverv1.RolloutPaused
	notActive := func() error {
		return refused("%s: no rollout is in progress (the rollout of %s is %s); to return to an earlier version after a rollout finished, apply its template again", word, short(ro.Revision), ro.Phase)
	}
	switch word {
	case "pause":
		if ro.Phase == droverv1.RolloutPaused {
			return "", refused("pause: the rollout is already Paused")
		}
		if ro.Phase != droverv1.RolloutProgressing {
			return "", notActive()
		}
		return fmt.Sprintf("the rollout goes to Paused at %s: Prods in flight finish their move and come back, no new Prod is picked, and the step's gates stop (they start again after resume)", step), nil
	case "resume":
		if ro.Phase == droverv1.RolloutProgressing {
			return "", refused("resume: the rollout is not Paused, it is Progressing")
		}
		if ro.Phase != droverv1.RolloutPaused {
			return "", notActive()
		}
		return fmt.Sprintf("the rollout goes back to Progressing at %s", step), nil
	case "promote":
		if !active {
			return "", notActive()
		}
		if ro.Promoted {
			return "", refused("promote: %s is already promoted; its gates pass when reached", step)
		}
		effect := fmt.Sprintf("the gates of %s that have not passed pass%s", step, pendingGates(ro, policy))
		if ro.Phase == droverv1.RolloutPaused {
			effect += "; the rollout is Paused, so this takes effect after resume"
		} else if int(ro.Step)+1 < len(policy.Spec.Steps) {
			effect += fmt.Sprintf(", and the rollout goes on to step %d (%s)", ro.Step+2, policy.Spec.Steps[ro.Step+1].Name)
		}
		return effect, nil
	case "abort", "rollback":
		moved := movedProds(ro)
		if active {
			return fmt.Sprintf("the rollout goes to RollingBack: %s leave traffic in one DNS change and go back to revision %s", moved, short(ro.PreviousRevision)), nil
		}
		if word == "rollback" && ro.Phase == droverv1.RolloutSucceeded {
			if why := warmOriginals(ro, policy, now); why != "" {
				return "", refused("rollback: the rollout of %s finished and no previous-revision Prod is kept warm (%s); apply the previous template to go back", short(ro.Revision), why)
			}
			return fmt.Sprintf("the warm previous-revision Prods get their weight back and the replacements go to 0, in one DNS change; the rollout ends RolledBack (back to revision %s)", short(ro.PreviousRevision)), nil
		}
		if ro.Phase == droverv1.RolloutRollingBack || ro.Phase == droverv1.RolloutRolledBack {
			return "", refused("%s: the rollout of %s is already %s", word, short(ro.Revision), ro.Phase)
		}
		return "", notActive()
	}
	return "", fmt.Errorf("unknown rollout command %q", word)
}

// pendingGates lists the current step's gates without a passing verdict: " (gate 1
// approval, gate 2 httpCheck)".
func pendingGates(ro *droverv1.RolloutStatus, policy *droverv1.RolloutPolicy) string {
	var names []string
	for _, g := range gateViews(ro, policy) {
		if g.Verdict != "passed" {
			names = append(names, fmt.Sprintf("gate %d %s", g.Index+1, g.Type))
		}
	}
	if len(names) == 0 {
		return " (when they start)"
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// movedProds names the Prods the rollout picked: "the Prods on the new revision
// (shop-eu-1, shop-us-1)".
func movedProds(ro *droverv1.RolloutStatus) string {
	var names []string
	for _, p := range ro.Prods {
		n := p.Name
		if p.Replacement != "" {
			n = p.Replacement + " (replacing " + p.Name + ")"
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return "the Prods on the new revision (none picked yet)"
	}
	return "the Prods on the new revision (" + strings.Join(names, ", ") + ")"
}

// warmOriginals returns "" when a succeeded Replace rollout still keeps its originals
// warm, else why not.
func warmOriginals(ro *droverv1.RolloutStatus, policy *droverv1.RolloutPolicy, now time.Time) string {
	if policy.Spec.Strategy != droverv1.ReplaceStrategy {
		return "the InPlace strategy keeps none"
	}
	if policy.Spec.RollbackWindow == nil || policy.Spec.RollbackWindow.Duration == 0 {
		return "the policy has no rollbackWindow"
	}
	if ro.FinishedTime == nil {
		return "the rollout has no finishedTime"
	}
	if end := ro.FinishedTime.Add(policy.Spec.RollbackWindow.Duration); !now.Before(end) {
		return fmt.Sprintf("the rollbackWindow of %s ended at %s", policy.Spec.RollbackWindow.Duration, end.UTC().Format(time.RFC3339))
	}
	for _, p := range ro.Prods {
		if p.Replacement != "" {
			return ""
		}
	}
	return "no original has a replacement"
}
