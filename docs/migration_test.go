package docs

import (
	"os"
	"regexp"
	"testing"
)

// TestMigrationSnippetsAreExamples checks that every Example function MIGRATION.md names
// exists in migration_example_test.go, where go test compiles it and checks its output.
func TestMigrationSnippetsAreExamples(t *testing.T) {
	doc, err := os.ReadFile("MIGRATION.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("migration_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile("`(Example_[A-Za-z0-9]+)`").FindAllStringSubmatch(string(doc), -1)
	if len(named) == 0 {
		t.Fatal("MIGRATION.md names no Example function")
	}
	for _, m := range named {
		if !regexp.MustCompile(`(?m)^func ` + m[1] + `\(\)`).Match(src) {
			t.Errorf("MIGRATION.md names %s, which migration_example_test.go does not define", m[1])
		}
	}
}
