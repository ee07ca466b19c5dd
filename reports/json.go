package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/pkarena/pkarena/conformance/results"
)

// errNilRun is returned by the writers when they are given no run.
var errNilRun = errors.New("reports: nil conformance run")

// WriteJSON writes run as indented JSON (results.json), ending with a newline.
//
// The output is meant for tools: lists and maps that are nil in run are written as [] and {}
// rather than null; invalid UTF-8 in strings becomes U+FFFD (as encoding/json does); and a
// spec duration that is negative, NaN or infinite, which JSON cannot carry, is written as 0.
// run itself is not modified.
func WriteJSON(w io.Writer, run *results.Run) error {
	if run == nil {
		return errNilRun
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(forJSON(run)); err != nil {
		return fmt.Errorf("reports: writing JSON: %w", err)
	}
	return nil
}

// ReadJSON reads a run written by WriteJSON. Fields it does not know are ignored, so that tools
// built against this version read results of later ones; anything after the run but white
// space is an error.
func ReadJSON(r io.Reader) (*results.Run, error) {
	dec := json.NewDecoder(r)
	var run results.Run
	if err := dec.Decode(&run); err != nil {
		return nil, fmt.Errorf("reports: reading JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("reports: reading JSON: unexpected data after the run")
	}
	return &run, nil
}

// forJSON returns a copy of run with nil lists and maps made empty and durations made finite.
func forJSON(run *results.Run) *results.Run {
	c := *run
	c.Config = nonNilMap(run.Config)
	c.Tiers = nonNilMap(run.Tiers)
	c.UncertifiedFeatures = nonNil(run.UncertifiedFeatures)
	c.Requirements = make([]results.Requirement, len(run.Requirements))
	for i, r := range run.Requirements {
		r.Specs = nonNil(r.Specs)
		c.Requirements[i] = r
	}
	c.Specs = make([]results.Spec, len(run.Specs))
	for i, s := range run.Specs {
		s.IDs = nonNil(s.IDs)
		s.Labels = nonNil(s.Labels)
		s.Seconds = seconds(s.Seconds)
		if s.Failure != nil {
			f := *s.Failure
			f.Transcripts = slices.Clone(f.Transcripts)
			for j := range f.Transcripts {
				f.Transcripts[j].Frames = nonNil(f.Transcripts[j].Frames)
			}
			s.Failure = &f
		}
		c.Specs[i] = s
	}
	return &c
}

// nonNil returns s, or an empty slice when s is nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// nonNilMap returns m, or an empty map when m is nil.
func nonNilMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}
