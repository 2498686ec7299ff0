package main

import (
	"os"
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

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
