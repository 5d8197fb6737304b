// Package awsclient builds drover's AWS SDK clients: an aws.Config from the standard
// credential and region chains, a retryer that backs off on throttling, and a
// client-side rate limit per service below AWS's own, so that drover does not spend the
// account's request budget (Route53's is 5 requests per second for the whole account)
// and stays clear of ELBv2's throttling of target registrations.
//
// Build one Clients per process and share it: the rate limits live in it, and two
// Clients would each allow the full rate.
//
// The SDK clients it returns are wrapped by internal/cloud/elbv2 and
// internal/cloud/route53, which hide pagination and count every call in cloudmetrics.
package awsclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	route53sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	"golang.org/x/time/rate"
)

// Defaults of Options.
const (
	// DefaultMaxAttempts is how many times one call is tried (the first attempt
	// included) before the retryer gives up on a retryable error.
	DefaultMaxAttempts = 5
	// DefaultMaxBackoff caps the delay between two attempts. Throttling errors back off
	// from 1 s, doubling, with full jitter; other retryable errors from 50 ms.
	DefaultMaxBackoff = 20 * time.Second
	// DefaultAttemptTimeout bounds one attempt of a call, from sending the request to
	// reading the whole answer. The SDK sets none, so an answer lost on the way (a
	// dropped connection that never resets) would hold the caller, a reconcile or a
	// zone's DNS worker, forever. An attempt that times out is retried like a
	// connection error.
	DefaultAttemptTimeout = 30 * time.Second
)

var (
	// DefaultRoute53Limit keeps drover at 4 requests per second, below the 5 per second
	// AWS allows for the whole account, spaced evenly (no burst).
	DefaultRoute53Limit = Limit{Rate: 4, Burst: 1}
	// DefaultELBv2Limit paces every ELBv2 call (as aws-load-balancer-controller does).
	DefaultELBv2Limit = Limit{Rate: 10, Burst: 40}
	// DefaultELBv2TargetsLimit paces RegisterTargets and DeregisterTargets on top of
	// DefaultELBv2Limit: AWS throttles these well below other calls.
	DefaultELBv2TargetsLimit = Limit{Rate: 4, Burst: 20}
	// Unlimited turns a limit off (tests against a local emulator).
	Unlimited = Limit{Rate: rate.Inf}
)

// ThrottleCodes are the error codes of AWS's refusals for rate. They are retried with
// backoff and count as cloudmetrics.Throttled. PriorRequestNotComplete is Route53's
// answer while an earlier change to the same hosted zone is still being accepted.
var ThrottleCodes = []string{"Throttling", "ThrottlingException", "RequestLimitExceeded", "PriorRequestNotComplete"}

// Limit is a client-side rate limit: Rate calls per second on average, at most Burst at
// once. The zero Limit means the default; Unlimited means none.
type Limit struct {
	Rate  rate.Limit
	Burst int
}

func (l Limit) or(def Limit) Limit {
	if l.Rate == 0 {
		return def
	}
	if l.Burst < 1 {
		l.Burst = 1
	}
	return l
}

// Endpoints are base URLs that replace AWS's endpoints, per service (moto in tests).
// Empty means AWS's own (or AWS_ENDPOINT_URL_<SERVICE> from the environment).
type Endpoints struct {
	ELBv2   string
	Route53 string
}

// Options configure the clients. The zero value is production: region and credentials
// from the standard chains (environment, shared config and credentials files, web
// identity (IRSA), EKS Pod Identity and ECS container credentials, EC2 instance
// metadata), the default retries and rate limits.
type Options struct {
	// Region overrides the region of the chains (AWS_REGION, the profile, IMDS).
	Region string
	// Endpoints override the services' endpoints.
	Endpoints Endpoints
	// Credentials overrides the credential chain, e.g.
	// credentials.NewStaticCredentialsProvider for tests.
	Credentials aws.CredentialsProvider
	// Isolated builds the config from these Options alone, reading no environment
	// variable, shared config file or instance metadata; Region and Credentials are then
	// required. For tests, which must not pick up a developer's AWS profile.
	Isolated bool

	// MaxAttempts is how many times one call is tried, the first attempt included;
	// 0 means DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff caps the delay between attempts; 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// AttemptTimeout bounds each attempt of a call; 0 means DefaultAttemptTimeout.
	AttemptTimeout time.Duration

	// Route53Limit paces every Route53 request; zero means DefaultRoute53Limit.
	Route53Limit Limit
	// ELBv2Limit paces every ELBv2 request; zero means DefaultELBv2Limit.
	ELBv2Limit Limit
	// ELBv2TargetsLimit also paces RegisterTargets and DeregisterTargets; zero means
	// DefaultELBv2TargetsLimit.
	ELBv2TargetsLimit Limit
}

// Clients are the SDK clients drover uses, sharing one aws.Config.
type Clients struct {
	Config  aws.Config
	ELBv2   *elbv2sdk.Client
	Route53 *route53sdk.Client
}

// New loads the config (LoadConfig) and builds the clients (NewClients).
func New(ctx context.Context, o Options) (*Clients, error) {
	cfg, err := LoadConfig(ctx, o)
	if err != nil {
		return nil, err
	}
	return NewClients(cfg, o), nil
}

// LoadConfig returns the aws.Config of o: the standard chains (unless o.Isolated) with
// o's overrides and drover's retryer.
func LoadConfig(ctx context.Context, o Options) (aws.Config, error) {
	if o.Isolated {
		if o.Region == "" || o.Credentials == nil {
			return aws.Config{}, errors.New("awsclient: Options.Isolated needs Region and Credentials")
		}
		return aws.Config{
			Region:      o.Region,
			Credentials: aws.NewCredentialsCache(o.Credentials),
			Retryer:     func() aws.Retryer { return NewRetryer(o) },
			HTTPClient:  newHTTPClient(o),
		}, nil
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return NewRetryer(o) }),
		config.WithHTTPClient(newHTTPClient(o)),
		// Asked only when neither Region, the environment nor the profile names one.
		config.WithEC2IMDSRegion(),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading the AWS config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS region: set it in drover's options, AWS_REGION or the profile")
	}
	return cfg, nil
}

// newHTTPClient is the SDK's default HTTP client with o's attempt timeout.
func newHTTPClient(o Options) *awshttp.BuildableClient {
	timeout := o.AttemptTimeout
	if timeout <= 0 {
		timeout = DefaultAttemptTimeout
	}
	return awshttp.NewBuildableClient().WithTimeout(timeout)
}

// NewRetryer is aws-sdk-go-v2's standard retryer (exponential backoff with full
// jitter, a retry quota) with o's attempts and backoff cap, where ThrottleCodes are
// retryable throttling errors.
func NewRetryer(o Options) aws.Retryer {
	codes := make(map[string]struct{}, len(ThrottleCodes))
	for _, c := range ThrottleCodes {
		codes[c] = struct{}{}
	}
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = o.MaxAttempts
		if so.MaxAttempts <= 0 {
			so.MaxAttempts = DefaultMaxAttempts
		}
		so.MaxBackoff = o.MaxBackoff
		if so.MaxBackoff <= 0 {
			so.MaxBackoff = DefaultMaxBackoff
		}
		so.Retryables = append(so.Retryables, retry.RetryableErrorCode{Codes: codes})
		so.Throttles = append(so.Throttles, retry.ThrottleErrorCode{Codes: codes})
	})
}

// NewClients builds the SDK clients over cfg with o's endpoints and rate limits.
func NewClients(cfg aws.Config, o Options) *Clients {
	elbLimit := newPacer(o.ELBv2Limit.or(DefaultELBv2Limit)).
		withOperations(o.ELBv2TargetsLimit.or(DefaultELBv2TargetsLimit), "RegisterTargets", "DeregisterTargets")
	r53Limit := newPacer(o.Route53Limit.or(DefaultRoute53Limit))
	return &Clients{
		Config: cfg,
		ELBv2: elbv2sdk.NewFromConfig(cfg, func(so *elbv2sdk.Options) {
			if o.Endpoints.ELBv2 != "" {
				so.BaseEndpoint = aws.String(o.Endpoints.ELBv2)
			}
			so.APIOptions = append(so.APIOptions, elbLimit.addTo)
		}),
		Route53: route53sdk.NewFromConfig(cfg, func(so *route53sdk.Options) {
			if o.Endpoints.Route53 != "" {
				so.BaseEndpoint = aws.String(o.Endpoints.Route53)
			}
			so.APIOptions = append(so.APIOptions, r53Limit.addTo)
		}),
	}
}
