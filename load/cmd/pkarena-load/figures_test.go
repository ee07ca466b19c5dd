package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/load/metrics"
)

// TestWriteFiguresPutsTheRunOnTop: a benchmark's figures go above the runs a file records,
// which stay as they were, and the file keeps its permissions.
func TestWriteFiguresPutsTheRunOnTop(t *testing.T) {
	tests := []struct {
		name     string
		md       string  // the figures; "## run 2\n" when empty
		old      *string // nil: no file yet
		mode     os.FileMode
		want     string
		wantMode os.FileMode
	}{
		{name: "no file yet", want: "## run 2\n", wantMode: 0o644},
		{name: "an empty file", old: ptr(""), mode: 0o600, want: "## run 2\n", wantMode: 0o600},
		{name: "a file with runs", old: ptr("## run 1\n\nfigures\n"), mode: 0o640,
			want: "## run 2\n\n## run 1\n\nfigures\n", wantMode: 0o640},
		{name: "figures that start with blank lines", md: "\n\n## run 2\n", old: ptr("## run 1\n"), mode: 0o644,
			want: "## run 2\n\n## run 1\n", wantMode: 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "fanout.md")
			if tt.old != nil {
				if err := os.WriteFile(path, []byte(*tt.old), tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			if err := checkFigures(path); err != nil {
				t.Fatalf("checkFigures: %v", err)
			}
			md := tt.md
			if md == "" {
				md = "## run 2\n"
			}
			if err := writeFigures(path, md); err != nil {
				t.Fatalf("writeFigures: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("file holds %q; want %q", got, tt.want)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != tt.wantMode {
				t.Errorf("mode %v; want %v", fi.Mode().Perm(), tt.wantMode)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("the folder holds %d files; want the figures' only (no temporary file left)", len(entries))
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestFiguresRefusedBeforeTheRun: a -write path that cannot be written is found before a
// benchmark runs (they take up to half an hour), with the path in the message, and a failed
// write creates nothing.
func TestFiguresRefusedBeforeTheRun(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, path, want string }{
		{"a folder", dir, "not a regular file"},
		{"a missing folder", filepath.Join(dir, "missing", "fanout.md"), "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkFigures(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("checkFigures(%s) = %v; want an error naming the path and saying %q", tt.path, err, tt.want)
			}
		})
	}
	if err := writeFigures(filepath.Join(dir, "missing", "fanout.md"), "## run\n"); err == nil {
		t.Error("writeFigures into a missing folder: no error")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Error("writeFigures created the missing folder")
	}
	// Through each benchmark: a usage error at once, before any process is started.
	bin, err := os.Executable() // any file will do: the run stops before starting it
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "missing", "figures.md")
	for _, cmd := range []string{"bench", "bench-fanout", "bench-journal"} {
		out := filepath.Join(dir, cmd)
		code, _, errOut := runCLI(t, cmd, "-server-bin", bin, "-out", out, "-write", bad)
		if code != metrics.ExitUsage || !strings.Contains(errOut, "-write "+bad) {
			t.Errorf("%s -write %s: exit %d, stderr %q; want exit %d naming -write", cmd, bad, code, errOut, metrics.ExitUsage)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s made its results folder before refusing -write", cmd)
		}
	}
}
