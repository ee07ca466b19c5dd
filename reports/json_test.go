package reports

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/conformance/results"
	"github.com/pkarena/pkarena/conformance/results/resultstest"
)

// TestJSONRoundTrip checks that ReadJSON reads back what WriteJSON wrote.
func TestJSONRoundTrip(t *testing.T) {
	nan := resultstest.Finished()
	nan.Specs[0].Seconds = math.NaN()
	nan.Specs[1].Seconds = math.Inf(1)
	tests := []struct {
		name string
		run  *results.Run
		want func(*results.Run) // adjusts a copy of forJSON(run) to what JSON can carry
	}{
		// The finished fixture; its invalid UTF-8 becomes U+FFFD.
		{"fixture", resultstest.Finished(), validUTF8},
		// The fixture before Finish: nothing derived yet.
		{"unfinished", resultstest.Fixture(), validUTF8},
		// An empty run: lists and maps come back empty, not nil.
		{"empty", &results.Run{}, nil},
		// Durations JSON cannot carry are written as 0.
		{"non-finite durations", nan, validUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteJSON(&buf, tt.run); err != nil {
				t.Fatalf("WriteJSON: %v", err)
			}
			if !strings.HasPrefix(buf.String(), "{\n  \"suite\": {") || !strings.HasSuffix(buf.String(), "}\n") {
				t.Errorf("not indented JSON:\n%.200s", buf.String())
			}
			if strings.Contains(buf.String(), "null") {
				t.Errorf("JSON has null:\n%s", buf.String())
			}
			got, err := ReadJSON(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("ReadJSON: %v", err)
			}
			want := forJSON(tt.run)
			if tt.want != nil {
				tt.want(want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v", got, want)
			}
			var again bytes.Buffer
			if err := WriteJSON(&again, got); err != nil {
				t.Fatalf("second WriteJSON: %v", err)
			}
			if got2, err := ReadJSON(&again); err != nil || !reflect.DeepEqual(got2, got) {
				t.Errorf("second round trip differs (err %v)", err)
			}
		})
	}
}

// validUTF8 replaces each invalid byte of the run's failure texts with U+FFFD, as encoding/json
// does (the fixture has no longer invalid sequences).
func validUTF8(run *results.Run) {
	for i := range run.Specs {
		f := run.Specs[i].Failure
		if f == nil {
			continue
		}
		f.Message = strings.ToValidUTF8(f.Message, "\uFFFD")
		for j := range f.Transcripts {
			tr := &f.Transcripts[j]
			for k := range tr.Frames {
				tr.Frames[k].Text = strings.ToValidUTF8(tr.Frames[k].Text, "\uFFFD")
			}
		}
	}
}

// TestWriteJSONDoesNotModify checks that WriteJSON leaves the run alone.
func TestWriteJSONDoesNotModify(t *testing.T) {
	run := &results.Run{Specs: []results.Spec{{Name: "a", Seconds: math.Inf(-1), Failure: &results.Failure{Transcripts: []results.Transcript{{}}}}}}
	if err := WriteJSON(&bytes.Buffer{}, run); err != nil {
		t.Fatal(err)
	}
	if run.Config != nil || run.Specs[0].IDs != nil || !math.IsInf(run.Specs[0].Seconds, -1) || run.Specs[0].Failure.Transcripts[0].Frames != nil {
		t.Errorf("WriteJSON modified the run: %+v", run)
	}
}

// TestReadJSONErrors checks what ReadJSON refuses and accepts.
func TestReadJSONErrors(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		// Nothing at all.
		{"empty", "", false},
		// Not JSON.
		{"garbage", "<testsuites/>", false},
		// Cut short.
		{"truncated", `{"suite": {"name": "x"`, false},
		// A field of the wrong type.
		{"wrong type", `{"specs": {"name": "x"}}`, false},
		// Two runs in one file.
		{"trailing run", `{} {}`, false},
		// Trailing garbage.
		{"trailing garbage", "{}\nx", false},
		// Unknown fields are ignored (a later version of the suite).
		{"unknown field", `{"schema": 2, "verdict": "pass"}`, true},
		// Trailing white space is fine.
		{"trailing space", "{}\n\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, err := ReadJSON(strings.NewReader(tt.in))
			if (err == nil) != tt.ok || (err == nil) != (run != nil) {
				t.Errorf("ReadJSON(%q) = %v, %v; want ok %v", tt.in, run, err, tt.ok)
			}
		})
	}
}

// TestWritersNil checks that every writer refuses a nil run with an error.
func TestWritersNil(t *testing.T) {
	for name, write := range writers {
		if err := write(&bytes.Buffer{}, nil); !errors.Is(err, errNilRun) {
			t.Errorf("%s(nil) = %v", name, err)
		}
	}
}

// writers are the four writers of the package, by name.
var writers = map[string]func(w *bytes.Buffer, run *results.Run) error{
	"WriteJSON":    func(w *bytes.Buffer, run *results.Run) error { return WriteJSON(w, run) },
	"WriteJUnit":   func(w *bytes.Buffer, run *results.Run) error { return WriteJUnit(w, run) },
	"WriteHTML":    func(w *bytes.Buffer, run *results.Run) error { return WriteHTML(w, run) },
	"WriteSummary": func(w *bytes.Buffer, run *results.Run) error { return WriteSummary(w, run) },
}
