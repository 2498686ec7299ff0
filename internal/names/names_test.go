package names

import "testing"

func TestTypeName(t *testing.T) {
	type local struct{}
	for _, tt := range []struct {
		name string
		m    any
		want string
	}{
		{"nil", nil, "nil"},
		{"pointer", &local{}, "*names.local"},
		{"value", 3, "int"},
	} {
		if got := TypeName(tt.m); got != tt.want {
			t.Errorf("%s: TypeName = %q; want %q", tt.name, got, tt.want)
		}
	}
}
