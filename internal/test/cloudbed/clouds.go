// Package cloudbed runs the clouds drover talks to, for the sandbox (cmd/sandbox) and
// the end-to-end suite (e2e): AWS as moto's server mode (ELBv2 and Route53) and
// OpenStack's real Octavia API and worker with their no-op drivers, and a stand-in for
// the OpenStack cloud controller manager (CCM) that gives the Prods' Services of type
// LoadBalancer their Octavia load balancers.
package cloudbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/gophercloud/gophercloud/v2"

	r53sdk "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// OctaviaProject is the OpenStack project of the load balancers in the clouds' Octavia
// (sent as X-Project-Id to the noauth API, by the manager and the stand-in CCM alike).
const OctaviaProject = "drover-sandbox"

// MirrorPollInterval is how often the manager reads Octavia and syncs each NLB mirror
// (--mirror-poll-interval, in ManagerArgs): short, so that a change shows within
// seconds.
const MirrorPollInterval = 5 * time.Second

// Clouds are AWS (moto: ELBv2 and Route53) and OpenStack Octavia (the real API and
// worker from Debian's packages, with their no-op drivers), each a set of child
// processes on loopback ports, with clients of both.
type Clouds struct {
	Moto    *awstest.Moto
	Octavia *octaviatest.Server
	// Network is moto's default VPC and its subnets, where the NLBs go.
	Network awstest.Network
	// AWS are clients of moto.
	AWS *awsclient.Clients
	// LBaaS is a client of Octavia's load-balancing API, in OctaviaProject.
	LBaaS *gophercloud.ServiceClient
	// Zones are the hosted zones CreateZones made, by name (example.com), with ids.
	Zones map[string]string
	// Route53 is the fault proxy the manager reaches moto's Route53 through
	// (ManagerArgs): it counts the requests on the wire and keeps the changes sent, and
	// can make changes PENDING as Route53 does (off unless a test sets it).
	Route53 *awstest.FaultProxy

	motoLog *os.File
}

// Start starts moto and Octavia at once, their logs in logDir (moto.log, and octavia/
// with the stack's configuration, database and one log per program). On error it stops
// what it started. Octavia stacks run one at a time per machine (octaviatest), so Start
// waits while another holds it.
func Start(logDir string) (_ *Clouds, retErr error) {
	c := &Clouds{Zones: map[string]string{}}
	defer func() {
		if retErr != nil {
			c.Stop()
		}
	}()
	var err error
	if c.motoLog, err = os.Create(filepath.Join(logDir, "moto.log")); err != nil {
		return nil, fmt.Errorf("creating the moto log: %w", err)
	}
	var wg sync.WaitGroup
	var motoErr, octaviaErr error
	wg.Go(func() {
		c.Moto, motoErr = awstest.StartServer(c.motoLog)
		if motoErr != nil {
			motoErr = fmt.Errorf("starting moto (AWS ELBv2 and Route53; hack/ensure-moto.sh installs it): %w", motoErr)
		}
	})
	wg.Go(func() {
		c.Octavia, octaviaErr = octaviatest.StartServer(filepath.Join(logDir, "octavia"), octaviatest.Options{ProjectID: OctaviaProject})
		if octaviaErr != nil {
			octaviaErr = fmt.Errorf("starting Octavia (hack/ensure-octavia.sh installs it): %w", octaviaErr)
		}
	})
	wg.Wait()
	if err := errors.Join(motoErr, octaviaErr); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c.Network, err = c.Moto.LookupDefaultNetwork(ctx); err != nil {
		return nil, fmt.Errorf("reading moto's default VPC: %w", err)
	}
	cfg, err := awsclient.LoadConfig(ctx, c.Moto.Options())
	if err != nil {
		return nil, err
	}
	c.AWS = awsclient.NewClients(cfg, c.Moto.Options())
	if c.Route53, err = awstest.StartFaultProxy(c.Moto.Endpoint(), 1); err != nil {
		return nil, fmt.Errorf("the Route53 proxy: %w", err)
	}
	if c.LBaaS, err = octaviatest.NoAuthClient(c.Octavia.Endpoint(), OctaviaProject); err != nil {
		return nil, fmt.Errorf("the Octavia client: %w", err)
	}
	return c, nil
}

// CreateZones creates a public hosted zone in moto for each name and remembers its id
// in Zones.
func (c *Clouds) CreateZones(ctx context.Context, names []string) error {
	for _, name := range names {
		out, err := c.AWS.Route53.CreateHostedZone(ctx, &r53sdk.CreateHostedZoneInput{
			Name: aws.String(name), CallerReference: aws.String("cloudbed-" + name),
		})
		if err != nil {
			return fmt.Errorf("creating the hosted zone %s in moto: %w", name, err)
		}
		c.Zones[name] = strings.TrimPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/")
	}
	return nil
}

// ManagerArgs are the manager's flags for these clouds: Route53 weights (through the
// Route53 proxy), NLB mirrors in moto's default VPC, Octavia without Keystone.
func (c *Clouds) ManagerArgs() []string {
	return []string{
		"--traffic-provider=route53",
		"--owner-id=" + route53.DefaultOwner,
		"--aws-region=" + awstest.Region,
		"--aws-elbv2-endpoint=" + c.Moto.Endpoint(),
		"--aws-route53-endpoint=" + c.Route53.URL(),
		"--nlb-vpc-id=" + c.Network.VPCID,
		"--nlb-subnets=" + strings.Join(c.Network.SubnetIDs(), ","),
		"--nlb-scheme=internet-facing",
		"--octavia-endpoint=" + c.Octavia.Endpoint(),
		"--octavia-project-id=" + OctaviaProject,
		// The load balancers the stand-in CCM makes are in OctaviaProject: a namespace
		// without a Tenant (the e2e suite's) may mirror those.
		"--default-octavia-projects=" + OctaviaProject,
		"--mirror-poll-interval=" + MirrorPollInterval.String(),
	}
}

// ManagerEnv is the manager's AWS credentials for moto (which takes any). They reach
// the manager through AWS's standard chain, as in production; the environment comes
// first in it, so a profile of the user's is not used (nor named: AWS_PROFILE is
// cleared).
func (c *Clouds) ManagerEnv() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_SESSION_TOKEN=",
		"AWS_PROFILE=", "AWS_REGION=" + awstest.Region,
	}
}

// Stop stops Octavia (RabbitMQ and epmd included), the Route53 proxy and moto; safe on
// partly started Clouds.
func (c *Clouds) Stop() {
	if c.Route53 != nil {
		c.Route53.Close()
	}
	var wg sync.WaitGroup
	if c.Octavia != nil {
		wg.Go(c.Octavia.Stop)
	}
	if c.Moto != nil {
		wg.Go(c.Moto.Stop)
	}
	wg.Wait()
	if c.motoLog != nil {
		_ = c.motoLog.Close()
	}
}
