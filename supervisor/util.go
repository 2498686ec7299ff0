package supervisor

import "reflect"

func typeName(m any) string {
	if m == nil {
		return "nil"
	}
	return reflect.TypeOf(m).String()
}
