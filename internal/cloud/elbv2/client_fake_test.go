package elbv2_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/cloud/elbv2"
)

// Tests against a server speaking ELBv2's query protocol, for what moto cannot show:
// throttling, and DescribeTags failing for an ARN that does not exist.

const xmlns = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

func elbError(code string) string {
	return fmt.Sprintf(`<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>test</Message></Error><RequestId>r1</RequestId></ErrorResponse>`, xmlns, code)
}

func elbOK(action, result string) string {
	return fmt.Sprintf(`<%[1]sResponse xmlns="%[2]s"><%[1]sResult>%[3]s</%[1]sResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></%[1]sResponse>`, action, xmlns, result)
}

// fakeELB answers each request with handle(action, form); it records the actions.
type fakeELB struct {
	mu      sync.Mutex
	actions []string
	handle  func(action string, form map[string][]string) (status int, body string)
}

func (f *fakeELB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action := r.PostForm.Get("Action")
	f.mu.Lock()
	f.actions = append(f.actions, action)
	f.mu.Unlock()
	status, body := f.handle(action, r.PostForm)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (f *fakeELB) count(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, a := range f.actions {
		if a == action {
			n++
		}
	}
	return n
}

func fakeClient(t *testing.T, f *fakeELB) *elbv2.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	clients, err := awsclient.New(t.Context(), awsclient.Options{
		Region:      "us-east-1",
		Endpoints:   awsclient.Endpoints{ELBv2: srv.URL},
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		Isolated:    true,
		MaxBackoff:  time.Millisecond,
		ELBv2Limit:  awsclient.Unlimited, ELBv2TargetsLimit: awsclient.Unlimited,
	})
	if err != nil {
		t.Fatal(err)
	}
	return elbv2.New(clients.ELBv2, elbv2.Options{})
}

const emptyTargetHealth = `<TargetHealthDescriptions></TargetHealthDescriptions>`

func TestThrottledCallIsRetriedAndCountedOnce(t *testing.T) {
	for _, code := range []string{"Throttling", "ThrottlingException", "RequestLimitExceeded"} {
		t.Run(code, func(t *testing.T) {
			refusals := 2
			f := &fakeELB{handle: func(action string, _ map[string][]string) (int, string) {
				if refusals > 0 {
					refusals--
					return http.StatusBadRequest, elbError(code)
				}
				return http.StatusOK, elbOK(action, emptyTargetHealth)
			}}
			c := fakeClient(t, f)
			success := counter("DescribeTargetHealth", cloudmetrics.Success)
			throttled := counter("DescribeTargetHealth", cloudmetrics.Throttled)
			if _, err := c.Targets(t.Context(), "arn:tg"); err != nil {
				t.Fatalf("a call throttled twice: %v", err)
			}
			if got := f.count("DescribeTargetHealth"); got != 3 {
				t.Errorf("the server saw %d attempts, want 3", got)
			}
			if success() != 1 || throttled() != 0 {
				t.Errorf("counted %d success, %d throttled; want 1, 0", success(), throttled())
			}
		})
	}
}

func TestThrottlingThatPersistsFailsAfterBoundedAttempts(t *testing.T) {
	f := &fakeELB{handle: func(string, map[string][]string) (int, string) {
		return http.StatusBadRequest, elbError("Throttling")
	}}
	c := fakeClient(t, f)
	throttled := counter("RegisterTargets", cloudmetrics.Throttled)
	err := c.RegisterTargets(t.Context(), "arn:tg", ipTargets(450))
	if err == nil || awsclient.ErrorCode(err) != "Throttling" {
		t.Fatalf("RegisterTargets while throttled: %v, want the Throttling error", err)
	}
	if got := f.count("RegisterTargets"); got != awsclient.DefaultMaxAttempts {
		t.Errorf("the server saw %d attempts, want %d (one chunk, then stop)", got, awsclient.DefaultMaxAttempts)
	}
	if throttled() != 1 {
		t.Errorf("counted %d throttled, want 1", throttled())
	}
}

// DescribeTags fails as a whole when one ARN does not exist; the chunk is asked again
// ARN by ARN and the gone one left out.
func TestTagsLeavesOutARNsThatAreGone(t *testing.T) {
	f := &fakeELB{handle: func(action string, form map[string][]string) (int, string) {
		var arns []string
		for i := 1; ; i++ {
			v := form[fmt.Sprintf("ResourceArns.member.%d", i)]
			if len(v) == 0 {
				break
			}
			arns = append(arns, v[0])
		}
		var b strings.Builder
		for _, arn := range arns {
			if arn == "arn:gone" {
				return http.StatusBadRequest, elbError("TargetGroupNotFound")
			}
			fmt.Fprintf(&b, `<member><ResourceArn>%s</ResourceArn><Tags><member><Key>arn</Key><Value>%s</Value></member></Tags></member>`, arn, arn)
		}
		return http.StatusOK, elbOK(action, "<TagDescriptions>"+b.String()+"</TagDescriptions>")
	}}
	c := fakeClient(t, f)
	arns := make([]string, 25)
	for i := range arns {
		arns[i] = fmt.Sprintf("arn:%d", i)
	}
	arns[3] = "arn:gone"
	tags, err := c.Tags(t.Context(), arns)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 24 {
		t.Errorf("tags of %d ARNs, want 24", len(tags))
	}
	for _, arn := range arns {
		if _, ok := tags[arn]; ok == (arn == "arn:gone") || (ok && tags[arn]["arn"] != arn) {
			t.Errorf("tags[%s] = %v, %v", arn, tags[arn], ok)
		}
	}
	// 2 chunks, the first failed and was asked again in 20 calls.
	if got := f.count("DescribeTags"); got != 22 {
		t.Errorf("%d DescribeTags calls, want 22", got)
	}
}

func TestErrorsNameTheOperationAndWrapNotFound(t *testing.T) {
	f := &fakeELB{handle: func(string, map[string][]string) (int, string) {
		return http.StatusBadRequest, elbError("LoadBalancerNotFound")
	}}
	c := fakeClient(t, f)
	_, err := c.Listeners(t.Context(), "arn:lb")
	if !errors.Is(err, cloudmetrics.ErrNotFound) || !strings.Contains(err.Error(), "DescribeListeners") {
		t.Errorf("Listeners of a missing load balancer: %v", err)
	}
	if err := c.DeleteLoadBalancer(t.Context(), "arn:lb"); err != nil {
		t.Errorf("DeleteLoadBalancer of a missing load balancer: %v", err)
	}
}
