package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

// guarded judges the mutants that sit in code only the hand-written mutants run: the body of
// an `if` whose condition requires mutant.On(X), which is the constant false without the
// pkarena_mutants tag (reference/mutant/off.go), and a function of the package named nowhere
// but in such bodies. No build of the server under test runs that code, so no client can tell
// such a mutant from the original. It returns a judgement for each such mutant of all, by
// key, reading each package folder once from the module at root; a folder that does not parse
// judges nothing.
func guarded(root string, all []Mutant) map[string]Judgement {
	out := map[string]Judgement{}
	spans := map[string][]guardedBody{} // by package folder, relative to root
	for _, m := range all {
		bs, seen := spans[m.Dir]
		if !seen {
			bs = guardedSpans(filepath.Join(root, m.Dir))
			spans[m.Dir] = bs
		}
		for _, b := range bs {
			if b.file == m.File && b.contains(m.Line, m.Column) {
				out[m.Key()] = Judgement{Equivalent: true, Reason: b.reason()}
				break
			}
		}
	}
	return out
}

// guardedBody is a span of a file that runs only when mutant.On(guard): an if statement's
// body, the right operand of an && (operand), or a function called only from such bodies (fn
// names it).
type guardedBody struct {
	file       string // base name
	guard      string // mutant.On(X)
	fn         string
	operand    bool // the right operand of mutant.On(X) && ...
	start, end token.Position
}

func (b guardedBody) reason() string {
	if b.operand {
		return fmt.Sprintf("after `%s &&`, never evaluated without the pkarena_mutants tag (found by mutaudit)", b.guard)
	}
	if b.fn != "" {
		return fmt.Sprintf("in %s, which is called only in code that runs when %s: never run without the pkarena_mutants tag (found by mutaudit)", b.fn, b.guard)
	}
	return fmt.Sprintf("in code that runs only when %s (an if or a case), never without the pkarena_mutants tag (found by mutaudit)", b.guard)
}

// guardedSpans parses the package in dir (its tests left out) and returns the bodies of its
// if statements that need mutant.On(X), then the functions and methods whose name appears
// nowhere else in the package than inside those bodies. Matching by name is conservative: a
// name used outside the bodies, by any type, or taken as a value there, keeps its functions
// out.
func guardedSpans(dir string) []guardedBody {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var bodies []guardedBody
	var files []*ast.File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil
		}
		files = append(files, f)
		bodies = append(bodies, guardedBodies(fset, f)...)
	}
	inBody := func(pos token.Pos) (guardedBody, bool) {
		at := fset.Position(pos)
		for _, b := range bodies {
			if b.file == filepath.Base(at.Filename) && b.contains(at.Line, at.Column) {
				return b, true
			}
		}
		return guardedBody{}, false
	}
	// Every use of a name, and the guard of the body it is in ("" outside every body).
	uses := map[string][]string{}
	decls := map[*ast.Ident]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				decls[fd.Name] = true
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			id, ok := n.(*ast.Ident)
			if !ok || decls[id] {
				return true
			}
			b, _ := inBody(id.Pos())
			uses[id.Name] = append(uses[id.Name], b.guard)
			return true
		})
	}
	out := bodies
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil || len(uses[fd.Name.Name]) == 0 {
				continue
			}
			guard := uses[fd.Name.Name][0]
			for _, g := range uses[fd.Name.Name] {
				if g == "" {
					guard = ""
					break
				}
			}
			if guard != "" {
				at := fset.Position(fd.Pos())
				out = append(out, guardedBody{file: filepath.Base(at.Filename), guard: guard, fn: fd.Name.Name, start: at, end: fset.Position(fd.End())})
			}
		}
	}
	return out
}

func (b guardedBody) contains(line, col int) bool {
	after := line > b.start.Line || (line == b.start.Line && col >= b.start.Column)
	before := line < b.end.Line || (line == b.end.Line && col <= b.end.Column)
	return after && before
}

// guardedBodies returns the bodies of f's if statements whose condition is mutant.On(X), or a
// chain of && with mutant.On(X) among its operands, the bodies of the cases of a switch
// without a tag whose one expression is such a condition, and the right operands of && whose
// left one needs mutant.On(X).
func guardedBodies(fset *token.FileSet, f *ast.File) []guardedBody {
	var out []guardedBody
	span := func(guard string, from, to token.Pos, operand bool) {
		start := fset.Position(from)
		out = append(out, guardedBody{file: filepath.Base(start.Filename), guard: guard, operand: operand, start: start, end: fset.Position(to)})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch e := n.(type) {
		case *ast.IfStmt:
			if guard := requiredGuard(e.Cond); guard != "" {
				span(guard, e.Body.Lbrace, e.Body.Rbrace, false)
			}
		case *ast.SwitchStmt: // switch { case mutant.On(X) && ...: body }
			if e.Tag != nil {
				return true
			}
			for _, st := range e.Body.List {
				cc, ok := st.(*ast.CaseClause)
				if !ok || len(cc.List) != 1 || len(cc.Body) == 0 {
					continue
				}
				if guard := requiredGuard(cc.List[0]); guard != "" {
					span(guard, cc.Colon, cc.Body[len(cc.Body)-1].End(), false)
				}
			}
		case *ast.BinaryExpr: // mutant.On(X) && y: y is never evaluated
			if guard := requiredGuard(e.X); e.Op == token.LAND && guard != "" {
				span(guard, e.Y.Pos(), e.Y.End(), true)
			}
		}
		return true
	})
	return out
}

// requiredGuard returns "mutant.On(X)" when cond can be true only if that call is: the call
// itself, or an operand of a chain of &&. Anything else ("||", "!") returns "".
func requiredGuard(cond ast.Expr) string {
	switch e := cond.(type) {
	case *ast.ParenExpr:
		return requiredGuard(e.X)
	case *ast.BinaryExpr:
		if e.Op != token.LAND {
			return ""
		}
		if g := requiredGuard(e.X); g != "" {
			return g
		}
		return requiredGuard(e.Y)
	case *ast.CallExpr:
		sel, ok := e.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "On" || len(e.Args) != 1 {
			return ""
		}
		if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "mutant" {
			return ""
		}
		arg := "?"
		if a, ok := e.Args[0].(*ast.SelectorExpr); ok {
			arg = a.Sel.Name
		}
		return "mutant.On(" + arg + ")"
	}
	return ""
}
