package bulwarkgrpc

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ClassifierName is the name under which the interceptors register Classify on their
// engine.
const ClassifierName = "grpc"

// PushbackKey is the trailer by which a server tells a client when to retry (gRPC A6):
// a non-negative integer of milliseconds, or a negative or unparsable value to say "do
// not retry".
const PushbackKey = "grpc-retry-pushback-ms"

// Classify is the "grpc" classifier (IN-13): how the interceptors judge one attempt's
// error by its status code. v is ignored.
//
//   - nil: Success.
//   - Unavailable, ResourceExhausted: Failure (retried).
//   - a policy timeout (policy.ErrTimeout: a per-attempt Timeout of the policy ended the
//     attempt): Failure (retried). A DeadlineExceeded status from the server, or from a
//     deadline that is not the policy's, is Abort; the caller's own deadline is handled
//     by the engine before any classifier (it ends the call with policy.ErrCancelled).
//   - InvalidArgument, NotFound, AlreadyExists, PermissionDenied, Unauthenticated,
//     FailedPrecondition, OutOfRange, Unimplemented: Success for breakers, and not
//     retried (the interceptors mark these Permanent, which the engine reads first).
//   - a pushback trailer asking not to retry: Abort.
//   - Internal, Unknown, DataLoss, Canceled, Aborted and any other code: Abort (a
//     failure, not retried).
//   - an error that carries no status at all: Failure.
func Classify(_ any, err error) policy.Verdict {
	if err == nil {
		return policy.Success
	}
	var pb *pushbackError
	if errors.As(err, &pb) && pb.stop {
		return policy.Abort
	}
	if errors.Is(err, policy.ErrTimeout) {
		return policy.Failure
	}
	s, ok := status.FromError(err)
	if !ok {
		return policy.Failure
	}
	return codeVerdict(s.Code())
}

// codeVerdict is the IN-13 table.
func codeVerdict(c codes.Code) policy.Verdict {
	switch c {
	case codes.OK:
		return policy.Success
	case codes.Unavailable, codes.ResourceExhausted:
		return policy.Failure
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented:
		return policy.Success
	}
	return policy.Abort
}

// pushbackError is an attempt's status error with the server's pushback trailer: a
// hint (after) or a request not to retry (stop).
type pushbackError struct {
	err   error
	after time.Duration
	stop  bool
}

func (e *pushbackError) Error() string {
	if e.stop {
		return e.err.Error() + " (server pushback: do not retry)"
	}
	return e.err.Error() + " (server pushback " + e.after.String() + ")"
}

func (e *pushbackError) Unwrap() error { return e.err }

// RetryAfter returns the server's pushback, for policy.RetryAfter.
func (e *pushbackError) RetryAfter() time.Duration { return e.after }

// GRPCStatus keeps the attempt's status, message included.
func (e *pushbackError) GRPCStatus() *status.Status { return status.Convert(e.err) }

// ParsePushback reads a grpc-retry-pushback-ms value: (d, true, false) for a
// non-negative integer of milliseconds, (0, false, true) for a value that asks not to
// retry (negative or unparsable), and ok false with stop false when values is empty.
func ParsePushback(values []string) (d time.Duration, ok, stop bool) {
	if len(values) == 0 {
		return 0, false, false
	}
	v := strings.TrimSpace(values[0])
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 || strings.HasPrefix(v, "+") {
		return 0, false, true
	}
	if ms > int64(time.Duration(1<<63-1)/time.Millisecond) {
		return time.Duration(1<<63 - 1), true, false
	}
	return time.Duration(ms) * time.Millisecond, true, false
}

// outcome turns one attempt's error into what the engine must see: nil stays nil; a
// status the caller caused is Permanent (not retried, not counted); a pushback trailer
// becomes a hint or a stop (IN-14).
func outcome(err error, trailer metadata.MD) error {
	if err == nil {
		return nil
	}
	if d, ok, stop := ParsePushback(trailer.Get(PushbackKey)); ok || stop {
		err = &pushbackError{err: err, after: d, stop: stop}
		if stop {
			return err
		}
	}
	if s, isStatus := status.FromError(err); isStatus && codeVerdict(s.Code()) == policy.Success {
		return policy.Permanent(err)
	}
	return err
}
