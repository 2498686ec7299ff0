package messages

import "testing"

func TestSharedChangeNamesEveryValue(t *testing.T) {
	for c, want := range map[SharedChange]string{OwnerLost: "owner_lost", OwnerFound: "owner_found", OwnerChanged: "owner_changed", 0: "unknown"} {
		if got := c.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int(c), got, want)
		}
	}
}
