package main

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
	"github.com/drover-dev/drover/internal/cloud/awstest"
	"github.com/drover-dev/drover/internal/cloud/octavia/octaviatest"
)

// octaviaProject is the OpenStack project of the sandbox's Octavia load balancers (sent
// as X-Project-Id to the noauth API, by the manager and the sandbox's CCM alike).
const octaviaProject = "drover-sandbox"

// mirrorPollInterval is how often the manager reads Octavia and syncs each NLB mirror
// (--mirror-poll-interval): short, so that a change shows within seconds.
const mirrorPollInterval = 5 * time.Second

// clouds are the sandbox's AWS (moto: ELBv2 and Route53) and OpenStack Octavia (the
// real API and worker from Debian's packages, with their no-op drivers), each a set of
// child processes on loopback ports.
type clouds struct {
	moto    *awstest.Moto
	motoLog *os.File
	octavia *octaviatest.Server
	network awstest.Network
	aws     *awsclient.Clients
	lbaas   *gophercloud.ServiceClient
	// zones are the hosted zones the sandbox made, by name (example.com), with ids.
	zones map[string]string
}

// startClouds starts moto and Octavia at once, their logs in logDir (moto.log, and
// octavia/ with the stack's configuration, database and one log per program). On error
// it stops what it started.
func startClouds(logDir string) (_ *clouds, retErr error) {
	c := &clouds{zones: map[string]string{}}
	defer func() {
		if retErr != nil {
			c.stop()
		}
	}()
	var err error
	if c.motoLog, err = os.Create(filepath.Join(logDir, "moto.log")); err != nil {
		return nil, fmt.Errorf("creating the moto log: %w", err)
	}
	var wg sync.WaitGroup
	var motoErr, octaviaErr error
	wg.Go(func() {
		c.moto, motoErr = awstest.StartServer(c.motoLog)
		if motoErr != nil {
			motoErr = fmt.Errorf("starting moto (AWS ELBv2 and Route53; hack/ensure-moto.sh installs it): %w", motoErr)
		}
	})
	wg.Go(func() {
		c.octavia, octaviaErr = octaviatest.StartServer(filepath.Join(logDir, "octavia"), octaviatest.Options{ProjectID: octaviaProject})
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
	if c.network, err = c.moto.LookupDefaultNetwork(ctx); err != nil {
		return nil, fmt.Errorf("reading moto's default VPC: %w", err)
	}
	cfg, err := awsclient.LoadConfig(ctx, c.moto.Options())
	if err != nil {
		return nil, err
	}
	c.aws = awsclient.NewClients(cfg, c.moto.Options())
	if c.lbaas, err = octaviatest.NoAuthClient(c.octavia.Endpoint(), octaviaProject); err != nil {
		return nil, fmt.Errorf("the Octavia client: %w", err)
	}
	return c, nil
}

// createZones creates a public hosted zone in moto for each name and remembers its id.
func (c *clouds) createZones(ctx context.Context, names []string) error {
	for _, name := range names {
		out, err := c.aws.Route53.CreateHostedZone(ctx, &r53sdk.CreateHostedZoneInput{
			Name: aws.String(name), CallerReference: aws.String("drover-sandbox-" + name),
		})
		if err != nil {
			return fmt.Errorf("creating the hosted zone %s in moto: %w", name, err)
		}
		c.zones[name] = strings.TrimPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/")
	}
	return nil
}

// managerArgs are the manager's flags for these clouds: Route53 weights, NLB mirrors
// in moto's default VPC, Octavia without Keystone.
func (c *clouds) managerArgs() []string {
	return []string{
		"--traffic-provider=route53",
		"--aws-region=" + awstest.Region,
		"--aws-elbv2-endpoint=" + c.moto.Endpoint(),
		"--aws-route53-endpoint=" + c.moto.Endpoint(),
		"--nlb-vpc-id=" + c.network.VPCID,
		"--nlb-subnets=" + strings.Join(c.network.SubnetIDs(), ","),
		"--nlb-scheme=internet-facing",
		"--octavia-endpoint=" + c.octavia.Endpoint(),
		"--octavia-project-id=" + octaviaProject,
		"--mirror-poll-interval=" + mirrorPollInterval.String(),
	}
}

// managerEnv is the manager's AWS credentials for moto (which takes any). They reach
// the manager through AWS's standard chain, as in production; the environment comes
// first in it, so a profile of the user's is not used (nor named: AWS_PROFILE is
// cleared).
func (c *clouds) managerEnv() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_SESSION_TOKEN=",
		"AWS_PROFILE=", "AWS_REGION=" + awstest.Region,
	}
}

// stop stops Octavia (RabbitMQ and epmd included) and moto; safe on a partly started
// clouds.
func (c *clouds) stop() {
	var wg sync.WaitGroup
	if c.octavia != nil {
		wg.Go(c.octavia.Stop)
	}
	if c.moto != nil {
		wg.Go(c.moto.Stop)
	}
	wg.Wait()
	if c.motoLog != nil {
		_ = c.motoLog.Close()
	}
}

// stopClouds stops the clouds and says how that went.
func stopClouds(c *clouds) {
	fmt.Println("stopping moto and Octavia...")
	start := time.Now()
	c.stop()
	fmt.Printf("moto and Octavia stopped after %s\n", time.Since(start).Round(time.Millisecond))
}
