package policy_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// RT-4: the Retry-After forms of RFC 9110 §10.2.3, with the HTTP-date layouts
// net/http.ParseTime accepts.
func TestParseRetryAfterReadsSecondsAndTheThreeDateForms(t *testing.T) {
	at := time.Date(2015, time.October, 21, 7, 28, 0, 0, time.UTC) // Wed, 21 Oct 2015 07:28:00 GMT
	minuteBefore := at.Add(-time.Minute)
	tests := []struct {
		name  string
		value string
		now   time.Time
		want  time.Duration
		ok    bool
	}{
		{"seconds", "120", minuteBefore, 2 * time.Minute, true},
		{"surrounding whitespace is trimmed", " 5 ", minuteBefore, 5 * time.Second, true},
		{"tabs are whitespace too", "\t7\t", minuteBefore, 7 * time.Second, true},
		{"zero: retry at once, a hint was present", "0", minuteBefore, 0, true},
		{"leading zeros are digits", "007", minuteBefore, 7 * time.Second, true},
		{"a sign is not delay-seconds", "-1", minuteBefore, 0, false},
		{"a plus sign neither", "+1", minuteBefore, 0, false},
		{"a fraction is not delay-seconds", "1.5", minuteBefore, 0, false},
		{"an inner space is not delay-seconds", "1 5", minuteBefore, 0, false},
		{"empty", "", minuteBefore, 0, false},
		{"blank", "   ", minuteBefore, 0, false},
		{"a unit is not allowed", "5s", minuteBefore, 0, false},
		{"IMF-fixdate a minute ahead", "Wed, 21 Oct 2015 07:28:00 GMT", minuteBefore, time.Minute, true},
		{"RFC 850 form of the same instant", "Wednesday, 21-Oct-15 07:28:00 GMT", minuteBefore, time.Minute, true},
		{"asctime form of the same instant", "Wed Oct 21 07:28:00 2015", minuteBefore, time.Minute, true},
		{"a date an hour ago: at once, a hint was present", "Wed, 21 Oct 2015 07:28:00 GMT", at.Add(time.Hour), 0, true},
		{"a date equal to now: at once", "Wed, 21 Oct 2015 07:28:00 GMT", at, 0, true},
		{"a date in another zone is not an HTTP-date", "Wed, 21 Oct 2015 07:28:00 CET", minuteBefore, 0, false},
		{"garbage", "soon", minuteBefore, 0, false},
		{"too many seconds are clamped", "99999999999999999999999", minuteBefore, time.Duration(math.MaxInt64), true},
		{"just past the largest duration is clamped", fmt.Sprint(math.MaxInt64/int64(time.Second) + 1), minuteBefore, time.Duration(math.MaxInt64), true},
		{"a date far ahead is clamped", "Fri, 31 Dec 9999 23:59:59 GMT", minuteBefore, time.Duration(math.MaxInt64), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := policy.ParseRetryAfter(tt.value, tt.now)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseRetryAfterDoesNotAllocate(t *testing.T) {
	now := time.Date(2015, time.October, 21, 7, 27, 0, 0, time.UTC)
	for _, v := range []string{"120", "Wed, 21 Oct 2015 07:28:00 GMT", "Wed Oct 21 07:28:00 2015", "soon"} {
		if n := testing.AllocsPerRun(100, func() { policy.ParseRetryAfter(v, now) }); n != 0 {
			t.Errorf("ParseRetryAfter(%q) allocates %v times", v, n)
		}
	}
}

func ExampleParseRetryAfter() {
	now := time.Date(2015, time.October, 21, 7, 27, 0, 0, time.UTC)
	for _, v := range []string{"120", "Wed, 21 Oct 2015 07:28:00 GMT", "1.5"} {
		d, ok := policy.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 2m0s true
	// 1m0s true
	// 0s false
}
