package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"sort"
)

// mutations is Gremlins v0.6.0's table (internal/engine/mappings.go): for each mutator, the
// token it finds and the token it puts in its place. Re-applying a mutant means swapping that
// one token at the position Gremlins reported, nothing else.
var mutations = map[string]map[token.Token]token.Token{
	"ARITHMETIC_BASE": {
		token.ADD: token.SUB, token.MUL: token.QUO, token.QUO: token.MUL,
		token.REM: token.MUL, token.SUB: token.ADD,
	},
	"CONDITIONALS_BOUNDARY": {
		token.GEQ: token.GTR, token.GTR: token.GEQ, token.LEQ: token.LSS, token.LSS: token.LEQ,
	},
	"CONDITIONALS_NEGATION": {
		token.EQL: token.NEQ, token.GEQ: token.LSS, token.GTR: token.LEQ,
		token.LEQ: token.GTR, token.LSS: token.GEQ, token.NEQ: token.EQL,
	},
	"INCREMENT_DECREMENT": {token.DEC: token.INC, token.INC: token.DEC},
	"INVERT_ASSIGNMENTS": {
		token.ADD_ASSIGN: token.SUB_ASSIGN, token.MUL_ASSIGN: token.QUO_ASSIGN,
		token.QUO_ASSIGN: token.MUL_ASSIGN, token.SUB_ASSIGN: token.ADD_ASSIGN,
	},
	"INVERT_LOGICAL":   {token.LAND: token.LOR, token.LOR: token.LAND},
	"INVERT_LOOPCTRL":  {token.BREAK: token.CONTINUE, token.CONTINUE: token.BREAK},
	"INVERT_NEGATIVES": {token.SUB: token.ADD},
}

// Mutant is one mutation Gremlins reported, with the folder its file is in (relative to the
// module root) and what became of it in each stage.
type Mutant struct {
	Dir    string `json:"dir"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Type   string `json:"type"`
	// Stage1 is Gremlins' status: KILLED, LIVED, TIMED OUT, NOT COVERED, NOT VIABLE, ...
	Stage1 string `json:"stage1"`
	// Stage2 is the suite's verdict, empty if the mutant did not go to stage 2.
	Stage2 *Verdict `json:"stage2,omitempty"`
	// Original and Mutated are the source line before and after, for the report.
	Original string `json:"original,omitempty"`
	Mutated  string `json:"mutated,omitempty"`
}

// Key names a mutant the way the equivalence list does: dir/file:line:column MUTATOR.
func (m Mutant) Key() string {
	return fmt.Sprintf("%s:%d:%d %s", filepath.ToSlash(filepath.Join(m.Dir, m.File)), m.Line, m.Column, m.Type)
}

// gremlinsReport is the part of Gremlins' -o JSON this tool reads.
type gremlinsReport struct {
	Files []struct {
		FileName  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

// readGremlins reads a Gremlins JSON report of the package in dir (Gremlins names files
// relative to the path it was given) and returns its mutants, sorted by file and position.
func readGremlins(path, dir string) ([]Mutant, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep gremlinsReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var out []Mutant
	for _, f := range rep.Files {
		for _, m := range f.Mutations {
			out = append(out, Mutant{Dir: dir, File: f.FileName, Line: m.Line, Column: m.Column, Type: m.Type, Stage1: m.Status})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Type < b.Type
	})
	return out, nil
}

// apply returns src with the one token at line:column swapped as mutator typ would swap it,
// and the line before and after. It fails if no token starts there or the mutator does not
// apply to the token found: the source moved since Gremlins ran.
func apply(src []byte, line, column int, typ string) (out []byte, before, after string, err error) {
	table, ok := mutations[typ]
	if !ok {
		return nil, "", "", fmt.Errorf("mutator %s: unknown", typ)
	}
	fset := token.NewFileSet()
	file := fset.AddFile("src.go", -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, scanner.ScanComments)
	for {
		pos, tok, _ := s.Scan()
		if tok == token.EOF {
			return nil, "", "", fmt.Errorf("%d:%d: no token starts there", line, column)
		}
		p := fset.Position(pos)
		if p.Line < line || (p.Line == line && p.Column < column) {
			continue
		}
		if p.Line != line || p.Column != column {
			return nil, "", "", fmt.Errorf("%d:%d: no token starts there", line, column)
		}
		to, ok := table[tok]
		if !ok {
			return nil, "", "", fmt.Errorf("%d:%d: %s does not apply to %q", line, column, typ, tok)
		}
		off := file.Offset(pos)
		out = make([]byte, 0, len(src)+2)
		out = append(out, src[:off]...)
		out = append(out, to.String()...)
		out = append(out, src[off+len(tok.String()):]...)
		return out, lineAt(src, line), lineAt(out, line), nil
	}
}

// lineAt returns line n (1-based) of src without its indentation.
func lineAt(src []byte, n int) string {
	start := 0
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src[start:], '\n')
		if j < 0 {
			return ""
		}
		start += j + 1
	}
	end := bytes.IndexByte(src[start:], '\n')
	if end < 0 {
		end = len(src) - start
	}
	l := src[start : start+end]
	return string(bytes.TrimLeft(l, " \t"))
}
