package gates

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/drover-dev/drover/internal/tenancy"
)

// Every request a gate makes goes through a client from newClient, and every failure
// reaches the verdict through reason: a gate's URL and address are written by a tenant,
// and its verdict is read by anyone who may read the ProdSet, so the manager must not
// be a way to reach what the tenant cannot, nor to read what it answers. The verdict
// holds status codes and fixed reasons only, never a word of a response body.

var (
	// errRedirectElsewhere: a redirect to another scheme, host or port.
	errRedirectElsewhere = errors.New("redirect to another host refused (only the same scheme, host and port are followed)")
	// errTooManyRedirects: more than maxRedirects in a row.
	errTooManyRedirects = errors.New("too many redirects")
)

const maxRedirects = 10

// newClient returns a client whose every connection, redirects included, goes to an
// address policy allows (checked on the address actually dialled, after DNS, so a name
// that resolves elsewhere the second time changes nothing), which follows redirects to
// the same scheme, host and port only, each of which must be a URL policy allows, and
// which uses no proxy (the proxy's address is not the one the check is for). trusted
// skips the policy (the manager's own --prometheus-address) but not the redirect rule.
func newClient(policy tenancy.Policy, trusted bool) *http.Client {
	if trusted {
		policy = tenancy.Policy{SingleTeam: true}
	}
	dialer := &net.Dialer{
		Timeout: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("dialling %q: not an IP address and port", address)
			}
			if ref := policy.GateAddress(ap.Addr()); ref != nil {
				return ref
			}
			return nil
		},
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return errTooManyRedirects
			}
			if !sameOrigin(req.URL, via[0].URL) {
				return errRedirectElsewhere
			}
			if ref := policy.GateURL(req.URL.String()); ref != nil {
				return ref
			}
			return nil
		},
	}
}

// sameOrigin says whether a and b have the same scheme, host and port (the scheme's
// default port when none is written).
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		switch u.Scheme {
		case "https":
			return "443"
		case "http":
			return "80"
		}
		return ""
	}
	return equalFold(a.Scheme, b.Scheme) && equalFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// reason is a fixed sentence for a failed request: what kind of failure, never what
// the server or the network said (an error's text may hold the URL's resolved
// address, a TLS peer's certificate names, or bytes the server sent).
func reason(err error) string {
	var ref *tenancy.Refusal
	var dnsErr *net.DNSError
	var netErr net.Error
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verification *tls.CertificateVerificationError
	var recordHeader tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ref):
		return "refused: " + ref.Message
	case errors.Is(err, errRedirectElsewhere):
		return errRedirectElsewhere.Error()
	case errors.Is(err, errTooManyRedirects):
		return errTooManyRedirects.Error()
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "host not found"
		}
		return "DNS lookup failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network unreachable"
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verification), errors.As(err, &recordHeader), errors.As(err, &alert):
		return "TLS handshake failed"
	}
	return "request failed"
}
