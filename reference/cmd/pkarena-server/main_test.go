package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/reference/server"
)

// A state directory whose journal cannot be trusted stops the start with exit status 3 and
// says why; bad flags are still usage errors (2).
func TestExitCodes(t *testing.T) {
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, server.JournalFile), []byte("name,score\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"a file that is not a journal", []string{"-listen", "127.0.0.1:0", "-state-dir", foreign}, exitJournal, "not a pkarena battle journal"},
		{"an invalid setting", []string{"-listen", "127.0.0.1:0", "-max-connected-rooms", "1"}, exitUsage, "max connected rooms"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, func(string) string { return "" }, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.says) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.says)
			}
		})
	}
}
