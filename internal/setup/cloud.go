package setup

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/elbv2"
	r53 "github.com/drover-dev/drover/internal/cloud/route53"
	"github.com/drover-dev/drover/internal/traffic"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// CloudFlags are the manager's flags for the clouds drover talks to: where DNS weights
// go, AWS (Route53 and the NLB mirrors' ELBv2) and OpenStack Octavia. Credentials come
// from each cloud's standard places: AWS's chain (environment, shared files, IRSA,
// instance metadata) and clouds.yaml.
type CloudFlags struct {
	TrafficProvider string
	Owner           string

	AWSRegion       string
	ELBv2Endpoint   string
	Route53Endpoint string
	NLBVPCID        string
	NLBSubnets      []string
	NLBScheme       string
	// AWSAttemptTimeout bounds each attempt of an AWS call (awsclient.Options).
	AWSAttemptTimeout time.Duration

	OctaviaEndpoint  string
	OctaviaProjectID string
	OSCloud          string

	MirrorPollInterval time.Duration
}

// Bind registers the flags on fs.
func (f *CloudFlags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.TrafficProvider, "traffic-provider", "none", "Where ProdSet weights are published: none; route53; or memory (in-process records that behave like Route53's, for sandboxes and demos only, lost on restart).")
	fs.StringVar(&f.Owner, "owner-id", "", "Identifies this drover installation in AWS tags and Route53 SetIdentifiers, so that installations sharing an account never touch each other's resources: required with AWS (route53, NLB mirrors), unique per installation, 1-32 letters, digits, '.', '_' or '-'. An installation that ran with the former default keeps its resources with --owner-id=drover.")
	fs.StringVar(&f.AWSRegion, "aws-region", "", "AWS region; defaults to the standard chain's (AWS_REGION, the profile, instance metadata).")
	fs.StringVar(&f.ELBv2Endpoint, "aws-elbv2-endpoint", "", "Base URL replacing AWS's ELBv2 endpoint (an emulator in tests).")
	fs.StringVar(&f.Route53Endpoint, "aws-route53-endpoint", "", "Base URL replacing AWS's Route53 endpoint (an emulator in tests).")
	fs.DurationVar(&f.AWSAttemptTimeout, "aws-attempt-timeout", awsclient.DefaultAttemptTimeout, "How long one attempt of an AWS call may take, answer included, before it is given up and retried.")
	fs.StringVar(&f.NLBVPCID, "nlb-vpc-id", "", "VPC of the NLB mirrors' target groups; NLB mirrors are off without it.")
	fs.StringSliceVar(&f.NLBSubnets, "nlb-subnets", nil, "Subnets of the NLB mirrors (comma-separated).")
	fs.StringVar(&f.NLBScheme, "nlb-scheme", "", "Scheme of the NLB mirrors: internet-facing or internal. Unset: internal for a new NLB, while an NLB made before keeps its scheme (docs/operations.md, upgrade notes).")
	fs.StringVar(&f.OctaviaEndpoint, "octavia-endpoint", "", "Octavia API endpoint used without Keystone (noauth deployments and tests); otherwise the load-balancer endpoint comes from --os-cloud.")
	fs.StringVar(&f.OctaviaProjectID, "octavia-project-id", "", "Project sent as X-Project-Id to a noauth --octavia-endpoint.")
	fs.StringVar(&f.OSCloud, "os-cloud", "", "Cloud of clouds.yaml to read Octavia from (OS_CLOUD by default); Octavia is not read without this or --octavia-endpoint.")
	fs.DurationVar(&f.MirrorPollInterval, "mirror-poll-interval", 30*time.Second, "How often an Octavia load balancer is read and its NLB mirror synced, when the Prod does not say.")
}

// ownerIDPattern is what an owner id may be: no "/", which separates it from the rest of a
// SetIdentifier (an owner "x" must never read "x/y"'s records as its own), and short
// enough for every tag and identifier it goes in.
var ownerIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

// CheckOwnerID says what is wrong with an owner id; needed is whether the manager talks
// to AWS, where the id is what keeps installations apart.
func CheckOwnerID(id string, needed bool) error {
	switch {
	case id == "" && needed:
		return errors.New("--owner-id is required with AWS (--traffic-provider=route53 or --nlb-vpc-id): a name of this installation, unique among the drover installations sharing the AWS account and hosted zones; an installation that ran with the former default keeps its records and NLBs with --owner-id=drover")
	case id != "" && !ownerIDPattern.MatchString(id):
		return fmt.Errorf("--owner-id %q: 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit (no '/': it separates the owner in Route53 SetIdentifiers)", id)
	}
	return nil
}

// Apply builds the cloud clients and publisher the flags describe into opts.
func (f *CloudFlags) Apply(ctx context.Context, opts *Options) error {
	needAWS := f.TrafficProvider == "route53" || f.NLBVPCID != ""
	if err := CheckOwnerID(f.Owner, needAWS); err != nil {
		return err
	}
	opts.Owner = f.Owner
	opts.MirrorPollInterval = f.MirrorPollInterval
	var clients *awsclient.Clients
	if needAWS {
		var err error
		clients, err = awsclient.New(ctx, awsclient.Options{
			Region:         f.AWSRegion,
			Endpoints:      awsclient.Endpoints{ELBv2: f.ELBv2Endpoint, Route53: f.Route53Endpoint},
			AttemptTimeout: f.AWSAttemptTimeout,
		})
		if err != nil {
			return fmt.Errorf("AWS: %w", err)
		}
	}
	switch f.TrafficProvider {
	case "none":
	case "memory":
		opts.Publisher = &traffic.Memory{Propagation: 2 * time.Second}
	case "route53":
		opts.Publisher = &route53.Publisher{
			API: r53.New(clients.Route53, r53.Options{}), Owner: f.Owner,
			Log: ctrl.Log.WithName("route53"),
		}
	default:
		return fmt.Errorf("--traffic-provider: unknown provider %q (none, memory, route53)", f.TrafficProvider)
	}
	if f.NLBVPCID != "" {
		if len(f.NLBSubnets) == 0 {
			return fmt.Errorf("--nlb-subnets: an NLB needs at least one subnet of VPC %s", f.NLBVPCID)
		}
		scheme := types.LoadBalancerSchemeEnum(strings.ToLower(f.NLBScheme))
		if scheme != "" && scheme != types.LoadBalancerSchemeEnumInternetFacing && scheme != types.LoadBalancerSchemeEnumInternal {
			return fmt.Errorf("--nlb-scheme: %q is neither internet-facing nor internal", f.NLBScheme)
		}
		opts.ELBv2 = elbv2.New(clients.ELBv2, elbv2.Options{})
		opts.NLBNetwork.VPCID, opts.NLBNetwork.Subnets, opts.NLBNetwork.Scheme = f.NLBVPCID, f.NLBSubnets, scheme
	}
	return f.applyOctavia(ctx, opts)
}
