package phases

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

type scope struct {
	ran  []string
	done bool
}

func step(name string, res ctrl.Result, err error, end bool) Phase[*scope] {
	return func(_ context.Context, s *scope) (ctrl.Result, error) {
		s.ran = append(s.ran, name)
		s.done = end
		return res, err
	}
}

func TestRun(t *testing.T) {
	later, sooner := ctrl.Result{RequeueAfter: time.Minute}, ctrl.Result{RequeueAfter: time.Second}
	boom := errors.New("boom")
	cases := []struct {
		name    string
		phases  []Phase[*scope]
		ends    bool
		ran     string
		res     ctrl.Result
		wantErr string
	}{
		{
			name:   "every phase runs after an error; the soonest requeue wins",
			phases: []Phase[*scope]{step("a", later, nil, false), WrapErr("doing b", step("b", ctrl.Result{}, boom, false)), step("c", sooner, nil, false)},
			ran:    "a b c", res: sooner, wantErr: "doing b: boom",
		},
		{
			name:   "a phase that ends the reconcile is the last",
			phases: []Phase[*scope]{step("a", later, nil, false), step("b", ctrl.Result{}, boom, true), step("c", sooner, nil, false)},
			ends:   true, ran: "a b", res: later, wantErr: "boom",
		},
		{
			name:   "without an end every phase runs",
			phases: []Phase[*scope]{step("a", ctrl.Result{}, nil, true), step("b", ctrl.Result{}, nil, false)},
			ran:    "a b",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scope{}
			var done func() bool
			if tc.ends {
				done = func() bool { return s.done }
			}
			res, err := Run(context.Background(), s, tc.phases, done)
			if got := strings.Join(s.ran, " "); got != tc.ran {
				t.Errorf("ran %q, want %q", got, tc.ran)
			}
			if res != tc.res {
				t.Errorf("result %+v, want %+v", res, tc.res)
			}
			if (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}
