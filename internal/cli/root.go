// Package cli is the kubectl plugin `kubectl drover`: a tree view of ProdSets and their
// rollouts (status), the rollout verbs (promote, pause, resume, abort, rollback) that set
// the drover.dev/rollout-command annotation, a diff of a candidate release (diff, through
// a ReleaseDiff the manager computes), and the cluster verbs (list, drain,
// restore) over Cluster API Clusters and ClusterMaintenances, and a local web dashboard
// of the same (dashboard). cmd/kubectl-drover is a thin main around NewCommand.
//
// Everything the plugin decides is read from the objects' status; the controllers stay
// the authority: a refused command is a courtesy (see --force), never a second rule.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/runtime"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Streams are where a command reads and writes.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Options tune the plugin; the zero value is what the binary uses.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PollInterval is how often --watch and --wait look again; default 1s.
	PollInterval time.Duration
	// Terminal overrides the detection of a terminal on Out (for --watch): nil detects.
	Terminal *bool
}

// cli is what every subcommand shares.
type cli struct {
	Streams
	opts   Options
	kube   *kubeFlags
	scheme *runtime.Scheme
}

// NewCommand returns the root command `kubectl drover` writing to streams.
func NewCommand(streams Streams, opts Options) *cobra.Command {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if streams.In == nil {
		streams.In = os.Stdin
	}
	if streams.Out == nil {
		streams.Out = os.Stdout
	}
	if streams.ErrOut == nil {
		streams.ErrOut = os.Stderr
	}
	c := &cli{Streams: streams, opts: opts, scheme: runtime.NewScheme()}
	for _, add := range []func(*runtime.Scheme) error{droverv1.AddToScheme, clusterv1.AddToScheme, corev1.AddToScheme, authorizationv1.AddToScheme} {
		if err := add(c.scheme); err != nil {
			panic(err) // static registrations; cannot fail
		}
	}

	root := &cobra.Command{
		Use:   "kubectl-drover",
		Short: "Follow and steer drover: ProdSets, rollouts and cluster maintenance",
		Long: `kubectl drover shows ProdSets and their rollouts as a tree, steers rollouts
(promote, pause, resume, abort, rollback), shows what a new revision would change on
the workload clusters (diff), keeps each rollout's history, drains and restores
workload clusters, and serves a live dashboard of all of it in the browser (dashboard).

It talks to the control-plane cluster of the current kubeconfig context, as kubectl does.`,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl drover",
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	c.kube = bindKubeFlags(root.PersistentFlags())

	root.AddCommand(c.statusCommand(), c.rolloutCommand(), c.clusterCommand(), c.leftoversCommand(),
		c.freezeCommand(), c.unfreezeCommand(), c.freezesCommand(), c.overrideSafetyCommand(), c.historyCommand(),
		c.diffCommand(), c.dashboardCommand())
	return root
}

// Execute runs the plugin with the process's arguments and streams; it returns the exit
// code.
func Execute(ctx context.Context, args []string) int {
	cmd := NewCommand(Streams{}, Options{})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err != nil && !errors.Is(err, differencesError{}) {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	return exitCode(err)
}

// exitCode is the plugin's exit status for what a command returned: 0 on success, 2 for
// a command refused (refusedError) or a diff that could not be made, 1 for differences
// found by diff and for any other error.
func exitCode(err error) int {
	var ref *refusedError
	var failed *diffFailedError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ref), errors.As(err, &failed):
		return 2
	}
	return 1
}

// client returns a client for the control plane of the selected kubeconfig context,
// and the namespace to work in.
func (c *cli) client() (client.Client, string, error) {
	cfg, ns, err := c.kube.restConfig()
	if err != nil {
		return nil, "", err
	}
	cl, err := client.New(cfg, client.Options{Scheme: c.scheme})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to the cluster: %w", err)
	}
	return cl, ns, nil
}

// withTimeout is ctx bounded by timeout when it is positive (the verbs' --timeout).
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return ctx, func() {}
}

// terminal reports whether Out is a terminal (for redrawing in place).
func (c *cli) terminal() bool {
	if c.opts.Terminal != nil {
		return *c.opts.Terminal
	}
	f, ok := c.Out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// refusedError is a command the plugin did not send because the status says it does not
// apply now; --force sends it anyway.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func refused(format string, args ...any) error {
	return &refusedError{msg: fmt.Sprintf(format, args...)}
}
