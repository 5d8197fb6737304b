package setup

import (
	"context"
	"fmt"
	"os"

	"github.com/drover-dev/drover/internal/cloud/octavia"
)

// applyOctavia builds the Octavia client the flags describe: a noauth endpoint, or a
// cloud of clouds.yaml (--os-cloud, else $OS_CLOUD). Without either, Octavia is not read.
func (f *CloudFlags) applyOctavia(ctx context.Context, opts *Options) error {
	cloud := f.OSCloud
	if cloud == "" && f.OctaviaEndpoint == "" {
		cloud = os.Getenv("OS_CLOUD")
	}
	if cloud == "" && f.OctaviaEndpoint == "" {
		return nil
	}
	c, err := octavia.New(ctx, octavia.Options{Cloud: cloud, Endpoint: f.OctaviaEndpoint, ProjectID: f.OctaviaProjectID})
	if err != nil {
		return fmt.Errorf("octavia: %w", err)
	}
	opts.Octavia = c
	return nil
}
