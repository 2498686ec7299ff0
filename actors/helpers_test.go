package actors_test

import (
	"encoding/json"
	"reflect"
	"testing"
)

// throughJSON marshals v, unmarshals it into a new T and checks that nothing was lost.
func throughJSON[T any](t *testing.T, v T) T {
	t.Helper()
	var back T
	data, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(data, &back)
	}
	if err != nil || !reflect.DeepEqual(back, v) {
		t.Fatalf("JSON round trip of %+v: %s, %v: got %+v", v, data, err, back)
	}
	return back
}
