package policy_test

import (
	"errors"
	"testing"

	"github.com/bulwark-go/bulwark/policy"
)

func TestVerdictString(t *testing.T) {
	tests := []struct {
		v    policy.Verdict
		want string
	}{
		{policy.Success, "success"},
		{policy.Failure, "failure"},
		{policy.Ignore, "ignore"},
		{policy.Abort, "abort"},
		{policy.Verdict(-1), "Verdict(-1)"},
		{policy.Verdict(4), "Verdict(4)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.v.String(); got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
		})
	}
	var zero policy.Verdict
	if zero != policy.Success {
		t.Errorf("the zero Verdict is %v, want success", zero)
	}
}

// A Classifier is a plain function: this one ignores "not found" and aborts on a bad
// request, as an HTTP classifier might.
func TestClassifierIsAPlainFunction(t *testing.T) {
	errNotFound, errBadRequest := errors.New("404"), errors.New("400")
	var c policy.Classifier = func(v any, err error) policy.Verdict {
		switch {
		case errors.Is(err, errNotFound):
			return policy.Ignore
		case errors.Is(err, errBadRequest):
			return policy.Abort
		case err != nil:
			return policy.Failure
		}
		return policy.Success
	}
	for err, want := range map[error]policy.Verdict{nil: policy.Success, errNotFound: policy.Ignore, errBadRequest: policy.Abort, errDown: policy.Failure} {
		if got := c(nil, err); got != want {
			t.Errorf("c(nil, %v) = %v, want %v", err, got, want)
		}
	}
}
