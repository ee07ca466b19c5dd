package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// writeUsage is the -write flag's help, the same for every benchmark.
const writeUsage = "also put the figures (Markdown) at the top of this file, above the runs it already records (created if absent)"

// checkFigures reports, before a benchmark runs, whether writeFigures could write path: its
// folder must take a new file, and a file already there must be a regular file it can read.
func checkFigures(path string) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("-write %s: not a regular file", path)
	}
	if f, err := os.Open(path); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("-write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("-write %s: %w", path, err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// writeFigures puts a benchmark's figures (Markdown) at the top of the file at path, above
// the runs it already records, so that a measurements file keeps its history newest first;
// it creates the file when there is none. The file is replaced whole by a rename (keeping
// its permissions), so a failed write leaves it as it was.
func writeFigures(path, md string) error {
	mode := fs.FileMode(0o644)
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	data := []byte(strings.TrimLeft(md, "\n")) // the file starts at a heading, not a blank line
	if len(old) > 0 {
		data = append(data, '\n')
		data = append(data, old...)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone by then unless something failed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
