package octaviatest

import (
	"bytes"
	"io"
	"net/http"
	"time"
)

// lockedRetries is how often the helpers' client sends a request again that Octavia
// answered "database is locked".
const lockedRetries = 10

// retryLocked is the helpers' transport: it sends a request again, after a short pause,
// when Octavia answers 500 "database is locked". On this SQLite-backed Octavia a write
// that began with a read fails so at once (no busy wait) when the worker wrote in
// between; the API rolled the request back, so sending it again is safe. (A client of a
// real Octavia on MySQL never sees this; drover's own client, which only reads, is not
// wrapped.)
type retryLocked struct{ next http.RoundTripper }

func (r retryLocked) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.GetBody != nil
	for attempt := 0; ; attempt++ {
		if attempt > 0 && req.Body != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = body
		}
		resp, err := r.next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusInternalServerError || attempt == lockedRetries || !replayable {
			return resp, err
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(b, []byte("database is locked")) {
			resp.Body = io.NopCloser(bytes.NewReader(b))
			return resp, nil
		}
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
}
