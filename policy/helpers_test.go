package policy_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/bulwark-go/bulwark/policy"
)

// jsonCase is a policy and the document it marshals to.
type jsonCase struct {
	name string
	p    policy.Policy
	want string
}

// checkJSONRoundTrip runs each case as a subtest: the policy marshals to exactly want,
// and ParseJSON of that document gives the policy back.
func checkJSONRoundTrip(t *testing.T, tests []jsonCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.p)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(data) != tt.want {
				t.Fatalf("Marshal\n got: %s\nwant: %s", data, tt.want)
			}
			got, err := policy.ParseJSON(data)
			if err != nil {
				t.Fatalf("ParseJSON: %v", err)
			}
			if !reflect.DeepEqual(got, tt.p) {
				t.Fatalf("ParseJSON = %#v, want %#v", got, tt.p)
			}
		})
	}
}

// rejectCase is a document ParseJSON must refuse, and the whole message it must give.
type rejectCase struct {
	name string
	doc  string
	want string
}

// checkParseJSONRejects runs each case as a subtest: ParseJSON returns no policy and an
// invalid-policy error whose message is exactly want.
func checkParseJSONRejects(t *testing.T, tests []rejectCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.ParseJSON([]byte(tt.doc))
			if p != nil {
				t.Errorf("ParseJSON returned a policy %v with its error", p)
			}
			assertInvalid(t, err, tt.want)
		})
	}
}
