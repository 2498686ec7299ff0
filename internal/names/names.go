// Package names holds the one helper that names values for bulwark's logs.
package names

import "reflect"

// TypeName returns the name of m's dynamic type, such as "*messages.Acquire", or "nil"
// for a nil interface: what an actor logs for a message it does not know.
func TypeName(m any) string {
	if m == nil {
		return "nil"
	}
	return reflect.TypeOf(m).String()
}
