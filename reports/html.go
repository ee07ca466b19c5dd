package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pkarena/pkarena/conformance/results"
)

// htmlFrameBytes is how much of each frame's text the HTML report keeps.
const htmlFrameBytes = 4000

//go:embed conformance.html.tmpl
var conformanceTemplateText string

// conformanceTemplate renders a conformance run; html/template escapes every value by context.
var conformanceTemplate = template.Must(template.New("conformance").Parse(conformanceTemplateText))

// WriteHTML writes run as one self-contained HTML page, readable offline: inline CSS, no
// external resource and no JavaScript (a Content-Security-Policy forbids both, since names,
// messages and frames come from the server under test). In order, it shows:
//
//   - the overall verdict, and CERTIFIED or NOT CERTIFIED for a certification run; the suite's
//     name, version, commit and binary SHA-256; the target; start, finish and duration;
//   - the totals overall and per tier, and the features not certified;
//   - the (redacted) configuration;
//   - the requirements grouped by SPEC.md section, each with its level, tier, verdict, text and
//     the specs that check it;
//   - the failed and erred specs with their requirement IDs, location, message and the
//     transcript of each client (time since the spec's first frame, direction, frame text cut
//     to 4000 bytes);
//   - every spec with its verdict, tier, labels, duration and reason.
//
// The page is rendered with html/template, so every text is escaped; invalid UTF-8 becomes
// U+FFFD and control characters their Unicode control pictures. Nothing is written if the
// page cannot be rendered.
func WriteHTML(w io.Writer, run *results.Run) error {
	if run == nil {
		return errNilRun
	}
	var buf bytes.Buffer
	if err := conformanceTemplate.Execute(&buf, newHTMLView(run)); err != nil {
		return fmt.Errorf("reports: rendering HTML: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("reports: writing HTML: %w", err)
	}
	return nil
}

// htmlView is what the template shows: every text cleaned, every number formatted.
type htmlView struct {
	Title         string
	Verdict       htmlVerdict
	Certification bool
	Certified     bool
	Suite         results.SuiteInfo
	Target        string
	Started       string
	Finished      string
	Duration      string
	Totals        []htmlTotals
	Uncertified   []string
	Config        [][2]string
	Requirements  htmlRequirementCounts
	Sections      []htmlSection
	Failures      []htmlFailure
	Specs         []htmlSpec
	Note          string // why the verdict is what it is, when the counts do not say
	Problems      int    // specs that failed or erred
}

// htmlVerdict is a verdict with its word ("PASS") and CSS class ("v-pass").
type htmlVerdict struct {
	Word, Class string
}

// htmlTotals is one row of the totals table.
type htmlTotals struct {
	Label string
	results.Totals
	Total int
}

// htmlRequirementCounts counts requirements by verdict.
type htmlRequirementCounts struct {
	Total int
	results.Totals
}

// htmlSection is one SPEC.md section and its requirements.
type htmlSection struct {
	Name         string
	Requirements []htmlRequirement
}

// htmlRequirement is one row of a section's table.
type htmlRequirement struct {
	Anchor, ID, Level, Tier, Text string
	Verdict                       htmlVerdict
	Specs                         []htmlLink
}

// htmlLink is a name that links to an anchor of the page (no link when Anchor is empty).
type htmlLink struct {
	Name, Anchor string
}

// htmlFailure is a failed or erred spec in detail.
type htmlFailure struct {
	Anchor, Name, Location, Message string
	Spec                            string // anchor of the spec's row in the list of specs
	Verdict                         htmlVerdict
	IDs                             []htmlLink
	Transcripts                     []htmlTranscript
}

// htmlTranscript is one client's frames.
type htmlTranscript struct {
	Client  string
	Dropped int
	Frames  []htmlFrame
}

// htmlFrame is one row of a transcript.
type htmlFrame struct {
	At, Arrow, Dir, Class, Text string
	Truncated                   bool
	Shown, Size                 int
}

// htmlSpec is one row of the list of specs.
type htmlSpec struct {
	Anchor, Failure, Name, Tier, Duration, Reason, Location string
	Number                                                  int // in run order
	Area                                                    string
	AreaStart                                               bool // the first spec of its area in the list
	Verdict                                                 htmlVerdict
	Labels                                                  []string
	IDs                                                     []htmlLink
	Measured                                                []string // "name: value", cleaned
}

// newHTMLView prepares run for the template.
func newHTMLView(run *results.Run) *htmlView {
	v := &htmlView{
		Verdict:       verdictView(run.Verdict),
		Certification: run.Certification,
		Certified:     run.Certified,
		Note:          cleanText(run.Note),
		Suite: results.SuiteInfo{
			Name:         cleanText(run.Suite.Name),
			Version:      cleanText(run.Suite.Version),
			Commit:       cleanText(run.Suite.Commit),
			Protocol:     cleanText(run.Suite.Protocol),
			BinarySHA256: cleanText(run.Suite.BinarySHA256),
		},
		Target:      cleanText(run.Target),
		Started:     htmlTime(run.Started),
		Finished:    htmlTime(run.Finished),
		Uncertified: cleanAll(run.UncertifiedFeatures),
	}
	if v.Suite.Name == "" {
		v.Suite.Name = "pkarena conformance"
	}
	v.Title = singleLine(fmt.Sprintf("%s: %s", v.Suite.Name, v.Verdict.Word))
	if v.Target != "" {
		v.Title += " — " + singleLine(v.Target)
	}
	if d, ok := runDuration(run); ok {
		v.Duration = humanSeconds(d.Seconds())
	}

	// Totals, overall then per tier.
	v.Totals = append(v.Totals, htmlTotals{Label: "all tiers", Totals: run.Totals, Total: run.Totals.Total()})
	for _, tier := range tierOrder(run) {
		if t, ok := run.Tiers[tier]; ok && t.Total() > 0 {
			v.Totals = append(v.Totals, htmlTotals{Label: cleanText(tierLabel(tier)), Totals: t, Total: t.Total()})
		}
	}

	keys := make([]string, 0, len(run.Config))
	for k := range run.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Config = append(v.Config, [2]string{cleanText(k), cleanText(run.Config[k])})
	}

	// Anchors: requirements by ID, specs by their first index under a name.
	reqAnchor := map[string]string{}
	for i, r := range run.Requirements {
		if _, ok := reqAnchor[r.ID]; !ok {
			reqAnchor[r.ID] = fmt.Sprintf("req-%d", i)
		}
	}
	specAnchor := map[string]string{}
	for i, s := range run.Specs {
		if _, ok := specAnchor[s.Name]; !ok {
			specAnchor[s.Name] = fmt.Sprintf("spec-%d", i)
		}
	}
	idLinks := func(ids []string) []htmlLink {
		links := make([]htmlLink, 0, len(ids))
		for _, id := range ids {
			links = append(links, htmlLink{Name: cleanText(id), Anchor: reqAnchor[id]})
		}
		return links
	}

	// Requirements grouped by section, sections in order of first appearance.
	sectionIndex := map[string]int{}
	for i, r := range run.Requirements {
		v.Requirements.Total++
		v.Requirements.Add(r.Verdict)
		name := r.Section
		if name == "" {
			name = "(no section)"
		}
		j, ok := sectionIndex[name]
		if !ok {
			j = len(v.Sections)
			sectionIndex[name] = j
			v.Sections = append(v.Sections, htmlSection{Name: cleanText(name)})
		}
		hr := htmlRequirement{
			Anchor:  fmt.Sprintf("req-%d", i),
			ID:      cleanText(r.ID),
			Level:   cleanText(r.Level),
			Tier:    cleanText(string(r.Tier)),
			Text:    cleanText(r.Text),
			Verdict: verdictView(r.Verdict),
		}
		for _, name := range r.Specs {
			hr.Specs = append(hr.Specs, htmlLink{Name: cleanText(name), Anchor: specAnchor[name]})
		}
		v.Sections[j].Requirements = append(v.Sections[j].Requirements, hr)
	}

	for i, s := range run.Specs {
		hs := htmlSpec{
			Anchor:   fmt.Sprintf("spec-%d", i),
			Number:   i + 1,
			Name:     cleanText(s.Name),
			Tier:     cleanText(tierLabel(s.Tier)),
			Duration: humanSeconds(s.Seconds),
			Reason:   cleanText(s.Reason),
			Location: cleanText(s.Location),
			Verdict:  verdictView(s.Verdict),
			Labels:   cleanAll(s.Labels),
			IDs:      idLinks(s.IDs),
		}
		for _, m := range s.Measured {
			hs.Measured = append(hs.Measured, cleanText(m.Name+": "+m.Value))
		}
		if s.Verdict != results.Pass && s.Verdict != results.Skip && s.Verdict != results.Disabled {
			v.Problems++
			hs.Failure = fmt.Sprintf("failure-%d", i)
			v.Failures = append(v.Failures, failureView(s, hs, idLinks(s.IDs)))
			if s.Failure != nil && s.Failure.Message != "" && hs.Reason == "" {
				hs.Reason = oneLine(s.Failure.Message, 300)
			}
		}
		hs.Area = specArea(hs.Name)
		v.Specs = append(v.Specs, hs)
	}
	// Grouped by area (the spec's first words, before its requirement IDs; a nested
	// container's specs join the area whose words theirs begin with), in run order within
	// each: the run order interleaves areas.
	areas := map[string]bool{}
	for _, s := range v.Specs {
		areas[s.Area] = true
	}
	for i, s := range v.Specs {
		for a := range areas {
			if strings.HasPrefix(s.Area, a+" ") && len(a) < len(v.Specs[i].Area) {
				v.Specs[i].Area = a
			}
		}
	}
	slices.SortStableFunc(v.Specs, func(a, b htmlSpec) int { return strings.Compare(a.Area, b.Area) })
	for i := range v.Specs {
		v.Specs[i].AreaStart = i == 0 || v.Specs[i].Area != v.Specs[i-1].Area
	}
	return v
}

// specArea is the area of a spec: its name up to the requirement IDs ("Bad input [INPUT-003]
// ..." is in "Bad input"), or the whole name when it has none.
func specArea(name string) string {
	if i := strings.Index(name, " ["); i > 0 {
		return name[:i]
	}
	return name
}

// failureView details a failed or erred spec (or one with an invalid verdict).
func failureView(s results.Spec, hs htmlSpec, ids []htmlLink) htmlFailure {
	f := htmlFailure{
		Anchor:   hs.Failure,
		Spec:     hs.Anchor,
		Name:     hs.Name,
		Verdict:  hs.Verdict,
		IDs:      ids,
		Location: hs.Location,
		Message:  hs.Reason,
	}
	if !s.Verdict.Known() {
		f.Message = cleanText(fmt.Sprintf("invalid verdict %q (harness fault) %s", string(s.Verdict), s.Reason))
	}
	if s.Failure == nil {
		return f
	}
	if s.Failure.Message != "" {
		f.Message = cleanText(s.Failure.Message)
	}
	if s.Failure.Location != "" {
		f.Location = cleanText(s.Failure.Location)
	}
	origin := firstFrame(s.Failure.Transcripts)
	for _, t := range s.Failure.Transcripts {
		ht := htmlTranscript{Client: cleanText(t.Client), Dropped: t.Dropped}
		for _, fr := range t.Frames {
			text, kept, cut := truncate(fr.Text, htmlFrameBytes)
			hf := htmlFrame{
				At:        relativeMillis(origin, fr.At),
				Arrow:     arrow(fr.Dir),
				Dir:       cleanText(fr.Dir),
				Class:     "dir-other",
				Text:      text,
				Truncated: cut,
				Shown:     kept,
				Size:      len(fr.Text),
			}
			switch fr.Dir {
			case "sent":
				hf.Class = "dir-sent"
			case "received":
				hf.Class = "dir-received"
			}
			ht.Frames = append(ht.Frames, hf)
		}
		f.Transcripts = append(f.Transcripts, ht)
	}
	return f
}

// verdictView shows a verdict; an unknown verdict gets class v-unknown.
func verdictView(v results.Verdict) htmlVerdict {
	class := "v-unknown"
	if v.Known() {
		class = "v-" + string(v)
	}
	return htmlVerdict{Word: verdictWord(v), Class: class}
}

// htmlTime formats t for the page, in UTC, or "—" when unknown.
func htmlTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// cleanAll cleans every string of ss.
func cleanAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = cleanText(s)
	}
	return out
}
