package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
)

// guarded judges the mutants that sit in code only the hand-written mutants run: the body of
// an `if` whose condition requires mutant.On(X), which is the constant false without the
// pkarena_mutants tag (reference/mutant/off.go). No build of the server under test runs that
// code, so no client can tell such a mutant from the original. It returns a judgement for
// each such mutant of all, by key, reading each file once from the module at root; a file
// that does not parse judges nothing.
func guarded(root string, all []Mutant) map[string]Judgement {
	out := map[string]Judgement{}
	bodies := map[string][]guardedBody{} // by file, relative to root
	for _, m := range all {
		path := filepath.Join(m.Dir, m.File)
		bs, seen := bodies[path]
		if !seen {
			bs = guardedBodies(filepath.Join(root, path))
			bodies[path] = bs
		}
		for _, b := range bs {
			if b.contains(m.Line, m.Column) {
				out[m.Key()] = Judgement{Equivalent: true, Reason: fmt.Sprintf("inside `if %s ... {`, never run without the pkarena_mutants tag (found by mutaudit)", b.guard)}
				break
			}
		}
	}
	return out
}

// guardedBody is the span of an if statement's body that runs only when mutant.On(guard).
type guardedBody struct {
	guard      string // mutant.On(X)
	start, end token.Position
}

func (b guardedBody) contains(line, col int) bool {
	after := line > b.start.Line || (line == b.start.Line && col >= b.start.Column)
	before := line < b.end.Line || (line == b.end.Line && col <= b.end.Column)
	return after && before
}

// guardedBodies parses the Go file at path and returns the bodies of its if statements whose
// condition is mutant.On(X), or a chain of && with mutant.On(X) among its operands.
func guardedBodies(path string) []guardedBody {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	var out []guardedBody
	ast.Inspect(f, func(n ast.Node) bool {
		s, ok := n.(*ast.IfStmt)
		if !ok {
			return true
		}
		if guard := requiredGuard(s.Cond); guard != "" {
			out = append(out, guardedBody{guard: guard, start: fset.Position(s.Body.Lbrace), end: fset.Position(s.Body.Rbrace)})
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
