package awsclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	route53sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/smithy-go"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
)

const getChangeOK = `<?xml version="1.0" encoding="UTF-8"?>
<GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C1</Id><Status>INSYNC</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></GetChangeResponse>`

func route53Error(code string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>%s</Code><Message>test</Message></Error><RequestId>r1</RequestId></ErrorResponse>`, code)
}

func isolated(endpoint string) awsclient.Options {
	return awsclient.Options{
		Region:      "us-east-1",
		Endpoints:   awsclient.Endpoints{ELBv2: endpoint, Route53: endpoint},
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		Isolated:    true,
		MaxBackoff:  time.Millisecond,
	}
}

// The rate limit is in the clients' stacks: with one token a minute, a second call
// cannot be sent before its context's deadline and fails without reaching the server.
func TestClientsArePaced(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(getChangeOK))
	}))
	defer srv.Close()
	o := isolated(srv.URL)
	o.Route53Limit = awsclient.Limit{Rate: 1.0 / 60, Burst: 1}
	clients, err := awsclient.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.Route53.GetChange(t.Context(), &route53sdk.GetChangeInput{Id: aws.String("C1")}); err != nil {
		t.Fatalf("first call: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = clients.Route53.GetChange(ctx, &route53sdk.GetChangeInput{Id: aws.String("C1")})
	if err == nil || !strings.Contains(err.Error(), "rate limit") {
		t.Fatalf("second call within the minute: %v, want a rate limit error", err)
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("the server saw %d requests, want 1", got)
	}
}

// Each retry is an attempt the rate limit paces, so a retried throttle does not
// overrun the budget: with a burst of 1 and a long interval, the retry cannot go out.
func TestRetriesArePaced(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(route53Error("Throttling")))
	}))
	defer srv.Close()
	o := isolated(srv.URL)
	o.Route53Limit = awsclient.Limit{Rate: 1.0 / 60, Burst: 1}
	clients, err := awsclient.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := clients.Route53.GetChange(ctx, &route53sdk.GetChangeInput{Id: aws.String("C1")}); err == nil {
		t.Fatal("a throttled call succeeded")
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("the server saw %d requests, want 1 (the retry waits for a token)", got)
	}
}

func TestRetryerRetriesThrottling(t *testing.T) {
	r := awsclient.NewRetryer(awsclient.Options{})
	if r.MaxAttempts() != awsclient.DefaultMaxAttempts {
		t.Errorf("MaxAttempts = %d, want %d", r.MaxAttempts(), awsclient.DefaultMaxAttempts)
	}
	for _, code := range awsclient.ThrottleCodes {
		err := &smithy.GenericAPIError{Code: code}
		if !r.IsErrorRetryable(err) {
			t.Errorf("%s is not retryable", code)
		}
		if !awsclient.IsThrottle(fmt.Errorf("wrapped: %w", err)) {
			t.Errorf("%s is not a throttle", code)
		}
	}
	for _, code := range []string{"TargetGroupNotFound", "InvalidChangeBatch", "AccessDenied"} {
		if r.IsErrorRetryable(&smithy.GenericAPIError{Code: code}) {
			t.Errorf("%s is retryable", code)
		}
	}
	if got := awsclient.NewRetryer(awsclient.Options{MaxAttempts: 2}).MaxAttempts(); got != 2 {
		t.Errorf("MaxAttempts with Options.MaxAttempts 2 = %d", got)
	}
}

func TestClassifier(t *testing.T) {
	classify := awsclient.Classifier("TargetGroupNotFound")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&smithy.GenericAPIError{Code: "TargetGroupNotFound"}, cloudmetrics.NotFound},
		{fmt.Errorf("x: %w", cloudmetrics.ErrNotFound), cloudmetrics.NotFound},
		{&smithy.GenericAPIError{Code: "Throttling"}, cloudmetrics.Throttled},
		{errors.Join(&smithy.GenericAPIError{Code: "RequestLimitExceeded"}, errors.New("retry quota exceeded")), cloudmetrics.Throttled},
		{&smithy.GenericAPIError{Code: "PriorRequestNotComplete"}, cloudmetrics.Throttled},
		{&smithy.GenericAPIError{Code: "ValidationError"}, cloudmetrics.Error},
		{context.DeadlineExceeded, cloudmetrics.Error},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestLoadConfigIsolatedNeedsRegionAndCredentials(t *testing.T) {
	if _, err := awsclient.LoadConfig(t.Context(), awsclient.Options{Isolated: true, Region: "us-east-1"}); err == nil {
		t.Error("Isolated without Credentials: no error")
	}
	if _, err := awsclient.LoadConfig(t.Context(), awsclient.Options{Isolated: true, Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")}); err == nil {
		t.Error("Isolated without Region: no error")
	}
}

// The standard chains: the region and credentials come from the environment and the
// shared files unless Options override them.
func TestLoadConfigUsesTheChainsAndOverrides(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	credFile := filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfgFile, []byte("[profile drover]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(credFile, []byte("[drover]\naws_access_key_id = FROMFILE\naws_secret_access_key = secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(env, "")
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	t.Setenv("AWS_PROFILE", "drover")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	cfg, err := awsclient.LoadConfig(t.Context(), awsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || creds.AccessKeyID != "FROMFILE" {
		t.Errorf("from the profile: region %q, key %q; want eu-west-1, FROMFILE", cfg.Region, creds.AccessKeyID)
	}
	if cfg.Retryer == nil || cfg.Retryer().MaxAttempts() != awsclient.DefaultMaxAttempts {
		t.Error("the config does not carry drover's retryer")
	}

	cfg, err = awsclient.LoadConfig(t.Context(), awsclient.Options{Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("STATIC", "s", "")})
	if err != nil {
		t.Fatal(err)
	}
	creds, err = cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "us-west-2" || creds.AccessKeyID != "STATIC" {
		t.Errorf("overridden: region %q, key %q; want us-west-2, STATIC", cfg.Region, creds.AccessKeyID)
	}
}

func TestNewClientsUseTheEndpoints(t *testing.T) {
	var hit atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hit.Store(true)
		_, _ = w.Write([]byte(getChangeOK))
	}))
	defer srv.Close()
	clients, err := awsclient.New(t.Context(), isolated(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	out, err := clients.Route53.GetChange(t.Context(), &route53sdk.GetChangeInput{Id: aws.String("C1")})
	if err != nil {
		t.Fatal(err)
	}
	if !hit.Load() || out.ChangeInfo.Status != "INSYNC" {
		t.Errorf("the Route53 client did not call its BaseEndpoint")
	}
}

// An attempt whose answer never comes is given up after AttemptTimeout and retried:
// the caller is not held forever by a lost answer. Both the isolated config and the
// chains' carry the timeout, 30 s unless Options say otherwise.
func TestAttemptsTimeOutAndAreRetried(t *testing.T) {
	var requests atomic.Int32
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			select { // the first answer is lost
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		_, _ = w.Write([]byte(getChangeOK))
	}))
	defer srv.Close()
	o := isolated(srv.URL)
	o.AttemptTimeout = 200 * time.Millisecond
	clients, err := awsclient.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := clients.Route53.GetChange(ctx, &route53sdk.GetChangeInput{Id: aws.String("C1")}); err != nil {
		t.Fatalf("a call whose first answer was lost: %v, want the retry's answer", err)
	}
	if got := requests.Load(); got != 2 {
		t.Errorf("the server saw %d requests, want 2", got)
	}

	for name, load := range map[string]func() (aws.Config, error){
		"isolated": func() (aws.Config, error) { return awsclient.LoadConfig(t.Context(), isolated(srv.URL)) },
		"chains": func() (aws.Config, error) {
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			return awsclient.LoadConfig(t.Context(), awsclient.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
		},
	} {
		cfg, err := load()
		if err != nil {
			t.Fatal(err)
		}
		hc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
		if !ok || hc.GetTimeout() != awsclient.DefaultAttemptTimeout {
			t.Errorf("%s: HTTP client %T without the default attempt timeout", name, cfg.HTTPClient)
		}
	}
}
