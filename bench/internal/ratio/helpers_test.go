package main

import (
	"strings"
	"testing"
)

// readRaw returns the results of raw benchmark output, failing the test if it does not
// read.
func readRaw(t *testing.T, raw string) *results {
	t.Helper()
	s := newResults()
	if err := s.read(strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkContains fails the test for each of wants that got does not contain.
func checkContains(t *testing.T, got string, wants []string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
