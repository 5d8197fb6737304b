package route53_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/cloud/route53"
)

// Tests against a server speaking Route53's REST-XML protocol, for what moto cannot
// show: throttling, PriorRequestNotComplete, HealthCheckAlreadyExists, paging by
// StartRecordIdentifier, NoSuchHealthCheck from ListTagsForResources.

const xmlns = "https://route53.amazonaws.com/doc/2013-04-01/"

func r53Error(code string) string {
	return fmt.Sprintf(`<?xml version="1.0"?><ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>test</Message></Error><RequestId>r1</RequestId></ErrorResponse>`, xmlns, code)
}

func changeInfo(root, status string) string {
	return fmt.Sprintf(`<?xml version="1.0"?><%[1]s xmlns="%[2]s"><ChangeInfo><Id>/change/C42</Id><Status>%[3]s</Status><SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></%[1]s>`, root, xmlns, status)
}

type request struct {
	method, path string
	query        url.Values
	body         string
}

// fakeR53 answers each request with handle; it records the requests.
type fakeR53 struct {
	mu       sync.Mutex
	requests []request
	handle   func(r request) (status int, body string)
}

func (f *fakeR53) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := request{method: r.Method, path: strings.TrimPrefix(r.URL.Path, "/2013-04-01"), query: r.URL.Query(), body: string(body)}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	status, out := f.handle(req)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(out))
}

func (f *fakeR53) seen() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

func fakeClient(t *testing.T, f *fakeR53, o route53.Options) *route53.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	clients, err := awsclient.New(t.Context(), awsclient.Options{
		Region:       "us-east-1",
		Endpoints:    awsclient.Endpoints{Route53: srv.URL},
		Credentials:  credentials.NewStaticCredentialsProvider("k", "s", ""),
		Isolated:     true,
		MaxBackoff:   time.Millisecond,
		Route53Limit: awsclient.Unlimited,
	})
	if err != nil {
		t.Fatal(err)
	}
	return route53.New(clients.Route53, o)
}

var upsert = changes(types.ChangeActionUpsert, plain("a.example.com", "192.0.2.1"))

func TestThrottledCallIsRetriedAndCountedOnce(t *testing.T) {
	refusals := 3
	f := &fakeR53{handle: func(request) (int, string) {
		if refusals > 0 {
			refusals--
			return http.StatusBadRequest, r53Error("Throttling")
		}
		return http.StatusOK, changeInfo("GetChangeResponse", "PENDING")
	}}
	c := fakeClient(t, f, route53.Options{})
	success := counter("GetChange", cloudmetrics.Success)
	throttled := counter("GetChange", cloudmetrics.Throttled)
	status, err := c.GetChange(t.Context(), "C42")
	if err != nil || status != types.ChangeStatusPending {
		t.Fatalf("GetChange throttled 3 times: %q, %v", status, err)
	}
	if n := len(f.seen()); n != 4 {
		t.Errorf("the server saw %d attempts, want 4", n)
	}
	if success() != 1 || throttled() != 0 {
		t.Errorf("counted %d success, %d throttled; want 1, 0", success(), throttled())
	}
}

func TestPriorRequestNotCompleteIsWaitedOutThenReported(t *testing.T) {
	t.Run("clears", func(t *testing.T) {
		refusals := 1
		f := &fakeR53{handle: func(request) (int, string) {
			if refusals > 0 {
				refusals--
				return http.StatusBadRequest, r53Error("PriorRequestNotComplete")
			}
			return http.StatusOK, changeInfo("ChangeResourceRecordSetsResponse", "PENDING")
		}}
		id, err := fakeClient(t, f, route53.Options{}).ChangeResourceRecordSets(t.Context(), "Z1", upsert, "")
		if err != nil || id != "C42" {
			t.Fatalf("a change refused once: %q, %v; want C42", id, err)
		}
	})
	t.Run("persists", func(t *testing.T) {
		f := &fakeR53{handle: func(request) (int, string) {
			return http.StatusBadRequest, r53Error("PriorRequestNotComplete")
		}}
		throttled := counter("ChangeResourceRecordSets", cloudmetrics.Throttled)
		_, err := fakeClient(t, f, route53.Options{}).ChangeResourceRecordSets(t.Context(), "Z1", upsert, "")
		if !errors.Is(err, route53.ErrPriorRequestNotComplete) {
			t.Fatalf("a change refused at every attempt: %v, want ErrPriorRequestNotComplete", err)
		}
		if n := len(f.seen()); n != awsclient.DefaultMaxAttempts {
			t.Errorf("the server saw %d attempts, want %d", n, awsclient.DefaultMaxAttempts)
		}
		if throttled() != 1 {
			t.Errorf("counted %d throttled, want 1", throttled())
		}
	})
}

func TestHealthCheckAlreadyExists(t *testing.T) {
	f := &fakeR53{handle: func(request) (int, string) {
		return http.StatusConflict, r53Error("HealthCheckAlreadyExists")
	}}
	_, err := fakeClient(t, f, route53.Options{}).CreateHealthCheck(t.Context(), "used", &types.HealthCheckConfig{Type: types.HealthCheckTypeTcp}, nil)
	if !errors.Is(err, route53.ErrHealthCheckAlreadyExists) {
		t.Fatalf("CreateHealthCheck with a used reference: %v, want ErrHealthCheckAlreadyExists", err)
	}
}

func rrset(name, setID string) string {
	return fmt.Sprintf(`<ResourceRecordSet><Name>%s</Name><Type>A</Type><SetIdentifier>%s</SetIdentifier><Weight>1</Weight><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>`, name, setID)
}

func listing(next string, sets ...string) string {
	truncated := "false"
	if next != "" {
		truncated = "true"
		next = "<NextRecordName>shop.example.com.</NextRecordName><NextRecordType>A</NextRecordType><NextRecordIdentifier>" + next + "</NextRecordIdentifier>"
	}
	return fmt.Sprintf(`<?xml version="1.0"?><ListResourceRecordSetsResponse xmlns="%s"><ResourceRecordSets>%s</ResourceRecordSets><IsTruncated>%s</IsTruncated>%s<MaxItems>2</MaxItems></ListResourceRecordSetsResponse>`, xmlns, strings.Join(sets, ""), truncated, next)
}

// Route53 pages inside a weighted set by SetIdentifier; the listing follows it.
func TestListingFollowsTheRecordIdentifier(t *testing.T) {
	f := &fakeR53{handle: func(r request) (int, string) {
		switch r.query.Get("identifier") {
		case "":
			return http.StatusOK, listing("p3", rrset("shop.example.com.", "p1"), rrset("shop.example.com.", "p2"))
		case "p3":
			return http.StatusOK, listing("", rrset("shop.example.com.", "p3"))
		}
		return http.StatusBadRequest, r53Error("InvalidInput")
	}}
	sets, err := fakeClient(t, f, route53.Options{PageSize: 2}).ListResourceRecordSets(t.Context(), "Z1", "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 3 {
		t.Errorf("%d record sets, want 3", len(sets))
	}
	seen := f.seen()
	if len(seen) != 2 {
		t.Fatalf("%d requests, want 2", len(seen))
	}
	if q := seen[1].query; q.Get("name") != "shop.example.com." || q.Get("type") != "A" || q.Get("maxitems") != "2" {
		t.Errorf("second page asked with %v", q)
	}
}

// A page that would not move the listing on is an error, not an endless loop.
func TestListingThatDoesNotMoveOnFails(t *testing.T) {
	f := &fakeR53{handle: func(request) (int, string) {
		return http.StatusOK, listing("p1", rrset("shop.example.com.", "p1"))
	}}
	_, err := fakeClient(t, f, route53.Options{PageSize: 1}).ListResourceRecordSets(t.Context(), "Z1", "shop.example.com")
	if err == nil || !strings.Contains(err.Error(), "does not move on") {
		t.Fatalf("a listing stuck on one record: %v", err)
	}
	if n := len(f.seen()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// The listing stops at the first name past the ones asked for, without reading on.
func TestListingStopsPastTheName(t *testing.T) {
	f := &fakeR53{handle: func(request) (int, string) {
		return http.StatusOK, listing("more", rrset("shop.example.com.", "p1"), rrset("zzz.example.com.", ""))
	}}
	sets, err := fakeClient(t, f, route53.Options{}).ListResourceRecordSets(t.Context(), "Z1", "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 1 || len(f.seen()) != 1 {
		t.Errorf("%d record sets in %d requests, want 1 in 1", len(sets), len(f.seen()))
	}
}

var resourceID = regexp.MustCompile(`<ResourceId>([^<]*)</ResourceId>`)

// ListTagsForResources fails as a whole for a health check that is gone; the chunk is
// asked again id by id and the gone one left out.
func TestHealthCheckTagsLeavesOutThoseGone(t *testing.T) {
	f := &fakeR53{handle: func(r request) (int, string) {
		var b strings.Builder
		for _, m := range resourceID.FindAllStringSubmatch(r.body, -1) {
			if m[1] == "gone" {
				return http.StatusNotFound, r53Error("NoSuchHealthCheck")
			}
			fmt.Fprintf(&b, `<ResourceTagSet><ResourceType>healthcheck</ResourceType><ResourceId>%s</ResourceId><Tags><Tag><Key>id</Key><Value>%s</Value></Tag></Tags></ResourceTagSet>`, m[1], m[1])
		}
		return http.StatusOK, fmt.Sprintf(`<?xml version="1.0"?><ListTagsForResourcesResponse xmlns="%s"><ResourceTagSets>%s</ResourceTagSets></ListTagsForResourcesResponse>`, xmlns, b.String())
	}}
	ids := make([]string, 15)
	for i := range ids {
		ids[i] = fmt.Sprintf("hc-%d", i)
	}
	ids[12] = "gone"
	tags, err := fakeClient(t, f, route53.Options{}).HealthCheckTags(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 14 || tags["hc-0"]["id"] != "hc-0" || tags["hc-14"]["id"] != "hc-14" {
		t.Errorf("tags %v", tags)
	}
	if _, ok := tags["gone"]; ok {
		t.Error("the gone health check has tags")
	}
	// Chunk 1 (10 ids) at once; chunk 2 failed, then 5 calls one by one.
	if n := len(f.seen()); n != 7 {
		t.Errorf("%d requests, want 7", n)
	}
}

func TestDeleteHealthCheckThatIsGone(t *testing.T) {
	f := &fakeR53{handle: func(request) (int, string) {
		return http.StatusNotFound, r53Error("NoSuchHealthCheck")
	}}
	notFound := counter("DeleteHealthCheck", cloudmetrics.NotFound)
	if err := fakeClient(t, f, route53.Options{}).DeleteHealthCheck(t.Context(), "gone"); err != nil {
		t.Fatalf("DeleteHealthCheck of one gone: %v", err)
	}
	if notFound() != 1 {
		t.Errorf("counted %d not_found, want 1", notFound())
	}
}
