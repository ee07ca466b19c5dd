package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/internal/exitcode"
	"github.com/pkarena/pkarena/reference/server"
)

// A state directory whose journal cannot be trusted, or an address already taken, stops the
// start with exit status 3 (the tool failed) and says why; bad flags are usage errors (2).
func TestExitCodes(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
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
		{"a file that is not a journal", []string{"-listen", "127.0.0.1:0", "-state-dir", foreign}, exitcode.Error, "not a pkarena battle journal"},
		{"an address already taken", []string{"-listen", busy.Addr().String()}, exitcode.Error, "address already in use"},
		{"an invalid setting", []string{"-listen", "127.0.0.1:0", "-max-connected-rooms", "1"}, exitUsage, "max connected rooms"},
		{"a port beyond 65535", []string{"-listen", ":99999"}, exitUsage, `port "99999" must be a number from 0 to 65535`},
		{"an address without a port", []string{"-listen", "localhost"}, exitUsage, "missing port"},
		{"an unknown flag", []string{"-nope"}, exitUsage, "flag provided but not defined: -nope"},
		{"help, asked for", []string{"-h"}, exitOK, "-shutdown-timeout"},
		{"help lists the exit codes", []string{"-h"}, exitOK, "exit: 0 clean shutdown; 2 bad flags or environment; 3 a failure at run time"},
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

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-version"}, func(string) string { return "" }, &stdout, &stderr); code != exitOK {
		t.Fatalf("-version: exit %d, stderr %q", code, stderr.String())
	}
	if want := "pkarena-server " + server.Version + "\n"; stdout.String() != want {
		t.Errorf("-version printed %q; want %q", stdout.String(), want)
	}
}
