package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pkarena/pkarena/load/metrics"
)

// progressLine shows the engine's progress: one line rewritten in place on a terminal, a new
// line every logEvery elsewhere (CI logs), nothing when quiet.
type progressLine struct {
	w        io.Writer
	terminal bool
	quiet    bool
	last     time.Time
	shown    bool
}

// logEvery is how often a progress line is printed when the output is not a terminal.
const logEvery = 5 * time.Second

func newProgressLine(w io.Writer, quiet bool) *progressLine {
	p := &progressLine{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

// update shows one snapshot; the engine calls it from one goroutine.
func (p *progressLine) update(s metrics.Progress) {
	switch {
	case p.quiet:
	case p.terminal:
		fmt.Fprintf(p.w, "\r%s\033[K", s)
		p.shown = true
	case time.Since(p.last) >= logEvery:
		fmt.Fprintln(p.w, s)
		p.last = time.Now()
	}
}

// done ends the line in place, so what follows starts on a line of its own.
func (p *progressLine) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
