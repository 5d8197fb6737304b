package nlb_test

import (
	"context"
	"fmt"

	"github.com/drover-dev/drover/internal/cloud/elbv2"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/nlb/deploy"
)

// The round trip of FuzzDesiredDiff goes through AWS by internal/nlb/deploy, which the
// package's own tests cannot import (it imports internal/nlb).
func init() {
	nlb.Deploy.Observe = deploy.Observe
	nlb.Deploy.Apply = func(ctx context.Context, api elbv2.API, p nlb.Plan) (fmt.Stringer, error) {
		return deploy.Apply(ctx, api, p)
	}
	nlb.Deploy.ErrBlocked = deploy.ErrBlocked
}
