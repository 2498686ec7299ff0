package policy

import (
	"strconv"
	"unicode/utf8"
)

// validName checks that a breaker's or limiter's Name is valid UTF-8. A name is a
// metric label, a log field and a JSON string: two names that differ only in invalid
// bytes could not be told apart in any of them, so such a name is refused.
func validName(component, name string) error { return validUTF8(component, "Name", name) }

// validUTF8 checks that a name-like field (Name, Classifier) is valid UTF-8, for the
// reasons given on validName.
func validUTF8(component, field, s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	return invalidField(component, field, "valid UTF-8", strconv.Quote(s))
}
