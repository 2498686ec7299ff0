package policy

import (
	"math"
	"strings"
	"time"
)

// The three HTTP-date forms of RFC 9110 §5.6.7, the layouts net/http.ParseTime tries:
// IMF-fixdate (preferred), the obsolete RFC 850 form and ANSI C's asctime() form.
const (
	imfFixdate = "Mon, 02 Jan 2006 15:04:05 GMT"
	rfc850Date = "Monday, 02-Jan-06 15:04:05 GMT"
	asctimeDay = "Mon Jan _2 15:04:05 2006"
)

// ParseRetryAfter reads the value of an HTTP Retry-After header (RFC 9110 §10.2.3) as
// the wait it asks for, measured from now. value, trimmed of surrounding whitespace, is
// either delay-seconds (one or more ASCII digits: no sign, fraction or inner space) or an
// HTTP-date in any of the three forms net/http.ParseTime accepts (IMF-fixdate, RFC 850,
// asctime). A date at or before now gives (0, true): retry at once, but a hint was
// present. A value too large for a time.Duration is clamped to the largest one. Anything
// else gives (0, false). It is a pure function: it reads no clock, and allocates nothing for a valid value.
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if d, ok := parseDelaySeconds(value); ok {
		return d, true
	}
	if len(value) < len("Mon Jan 2 15:04:05 2006") {
		return 0, false // shorter than any HTTP-date
	}
	// The form shows in where the first comma is, so only one layout is tried (a failed
	// time.Parse allocates its error).
	layout := asctimeDay
	switch comma := strings.IndexByte(value, ','); {
	case comma == 3:
		layout = imfFixdate
	case comma > 3:
		layout = rfc850Date
	}
	t, err := time.Parse(layout, value)
	if err != nil {
		return 0, false
	}
	if !t.After(now) {
		return 0, true
	}
	return t.Sub(now), true // Sub clamps to the largest Duration
}

// parseDelaySeconds reads 1*DIGIT as seconds, clamping to the largest Duration.
func parseDelaySeconds(s string) (time.Duration, bool) {
	const maxSeconds = math.MaxInt64 / int64(time.Second)
	var n int64
	clamped := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if clamped {
			continue
		}
		n = n*10 + int64(c-'0')
		if n > maxSeconds {
			clamped = true
		}
	}
	if clamped {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(n) * time.Second, true
}
