package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The committed tables are what the data file gives: edit fixtures/errors.tsv and run
// go generate ./reference/protocol ./conformance/client, never the generated files.
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	files, err := generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join("../..", path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what fixtures/errors.tsv gives: run go generate ./reference/protocol ./conformance/client", path)
		}
	}
}

func TestBadDataFiles(t *testing.T) {
	for _, tt := range []struct {
		name, data, want string
	}{
		{"too few fields", "1\tA\tA\tmsg\n", "4 fields; want 5"},
		{"a code that is not a number", "x\tA\tA\tmsg\tdoc\n", `code "x" is not a positive number`},
		{"a code twice", "1\tA\tA\tm\td\n1\tB\tB\tm\td\n", "1 already on line 1"},
		{"a Go name twice", "1\tA\tA\tm\td\n2\tB\tA\tm\td\n", "Go A already on line 1"},
		{"an empty message", "1\tA\tA\t\td\n", "field 4 is empty"},
		{"no rows", "# only a comment\n", "no rows"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "fixtures"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, dataFile), []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := generate(root); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("generate: %v; want an error with %q", err, tt.want)
			}
		})
	}
}
