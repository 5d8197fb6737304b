package awsclient

import (
	"errors"
	"slices"

	"github.com/aws/smithy-go"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
)

// ErrorCode returns the AWS error code in err's chain ("TargetGroupNotFound",
// "Throttling"), or "" when err carries none.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// IsThrottle tells whether err is AWS refusing a call for its rate (ThrottleCodes).
func IsThrottle(err error) bool {
	return slices.Contains(ThrottleCodes, ErrorCode(err))
}

// Classifier returns the cloudmetrics classifier of a service whose "does not exist"
// error codes are notFound: cloudmetrics.NotFound for those (and for errors wrapping
// cloudmetrics.ErrNotFound), cloudmetrics.Throttled for ThrottleCodes,
// cloudmetrics.Error otherwise.
func Classifier(notFound ...string) cloudmetrics.Classifier {
	return func(err error) string {
		code := ErrorCode(err)
		switch {
		case slices.Contains(notFound, code), errors.Is(err, cloudmetrics.ErrNotFound):
			return cloudmetrics.NotFound
		case slices.Contains(ThrottleCodes, code):
			return cloudmetrics.Throttled
		default:
			return cloudmetrics.Error
		}
	}
}
