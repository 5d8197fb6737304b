// Command kubectl-drover is the kubectl plugin of drover: put it on the PATH and run
// `kubectl drover status`, `kubectl drover rollout promote shop`, `kubectl drover
// cluster drain workload-2 --wait`. The commands live in internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/drover-dev/drover/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
