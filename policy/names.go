package policy

import (
	"strconv"
	"unicode/utf8"
)

// validName checks that a breaker's or limiter's Name is valid UTF-8. A name is a
// metric label, a log field and a JSON string: two names that differ only in invalid
// bytes could not be told apart in any of them, so such a name is refused.
func validName(component, name string) error {
	if utf8.ValidString(name) {
		return nil
	}
	return invalidField(component, "Name", "valid UTF-8", strconv.Quote(name))
}
