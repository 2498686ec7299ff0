package policy

import (
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// The environment variables FromEnv reads, and their defaults.
const (
	envMaxRetries       = "MAX_RETRIES"
	envOperationTimeout = "OPERATION_TIMEOUT"
	defaultEnvAttempts  = 3
	defaultEnvTimeout   = 30 * time.Second
)

// FromEnv returns Combine(Retry(N), Timeout(T)) from the environment: MAX_RETRIES is N, the
// number of attempts (≥ 1, default 3), and OPERATION_TIMEOUT is T, a whole number of
// seconds such as "30" or a Go duration such as "1500ms" (> 0, default 30s). Unset or empty
// means the default; any other bad value is an error matching ErrInvalidPolicy that names
// the variable and the value. It is FromLookup(os.LookupEnv).
func FromEnv() (Policy, error) { return FromLookup(os.LookupEnv) }

// FromLookup is FromEnv reading its variables through lookup instead of the environment, so
// any configuration source (a map, flags, a secrets store) can feed it. A nil lookup finds
// nothing, which gives the defaults. Surrounding spaces in a value are ignored.
func FromLookup(lookup func(string) (string, bool)) (Policy, error) {
	attempts, timeout := defaultEnvAttempts, defaultEnvTimeout
	if v, ok := lookupValue(lookup, envMaxRetries); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, invalidField("environment", envMaxRetries, "a whole number of attempts ≥ 1", strconv.Quote(v))
		}
		attempts = n
	}
	if v, ok := lookupValue(lookup, envOperationTimeout); ok {
		d, ok := parseTimeout(v)
		if !ok {
			return nil, invalidField("environment", envOperationTimeout,
				`seconds ("30") or a Go duration ("1500ms") > 0`, strconv.Quote(v))
		}
		timeout = d
	}
	return Combine(Retry(attempts), Timeout(timeout)), nil
}

// lookupValue returns the trimmed value of name, and whether it is set and not empty.
func lookupValue(lookup func(string) (string, bool), name string) (string, bool) {
	if lookup == nil {
		return "", false
	}
	v, _ := lookup(name)
	v = strings.TrimSpace(v)
	return v, v != ""
}

// parseTimeout reads a positive timeout: an integer is seconds, anything else a Go duration.
func parseTimeout(v string) (time.Duration, bool) {
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 || secs > math.MaxInt64/int64(time.Second) {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	d, err := time.ParseDuration(v)
	return d, err == nil && d > 0
}
