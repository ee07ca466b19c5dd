package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/reference/protocol"
)

// TestCloseCodesAreTheProtocols checks every close code the server sends, its own constants and
// those it leaves to gorilla/websocket, against the table of reference/protocol, which
// fixtures/agreement_test.go checks against SPEC §2 and the conformance client.
func TestCloseCodesAreTheProtocols(t *testing.T) {
	own := []struct {
		name             string
		server, protocol int
	}{
		{"closeGoingAway", closeGoingAway, protocol.CloseGoingAway},
		{"closeUnsupportedData", closeUnsupportedData, protocol.CloseUnsupportedData},
		{"closeInvalidData", closeInvalidData, protocol.CloseInvalidData},
		{"closeInternalError", closeInternalError, protocol.CloseInternalError},
		{"closeHeartbeatTimeout", closeHeartbeatTimeout, protocol.CloseHeartbeatTimeout},
		{"closeTokenExpired", closeTokenExpired, protocol.CloseTokenExpired},
		{"closeSlowConsumer", closeSlowConsumer, protocol.CloseSlowConsumer},
		{"closeReplaced", closeReplaced, protocol.CloseReplaced},
		{"closeResumeRefused", closeResumeRefused, protocol.CloseResumeRefused},
	}
	for _, c := range own {
		if c.server != c.protocol {
			t.Errorf("server %s is %d, reference/protocol says %d", c.name, c.server, c.protocol)
		}
	}
	// gorilla/websocket closes with these itself: a frame that breaks RFC 6455 (TRANS-013), one
	// over the read limit (TRANS-009); the client's normal close is read with its constant.
	for _, c := range []struct {
		name              string
		gorilla, protocol int
	}{
		{"CloseProtocolError", websocket.CloseProtocolError, protocol.CloseProtocolError},
		{"CloseMessageTooBig", websocket.CloseMessageTooBig, protocol.CloseMessageTooBig},
		{"CloseNormalClosure", websocket.CloseNormalClosure, protocol.CloseNormal},
	} {
		if c.gorilla != c.protocol {
			t.Errorf("websocket.%s is %d, reference/protocol says %d", c.name, c.gorilla, c.protocol)
		}
	}
	// Every close constant of the package is in the table above (closeNone sends no frame).
	var listed []string
	for _, c := range own {
		listed = append(listed, c.name)
	}
	declared := closeConstNames(t)
	for _, name := range declared {
		if name != "closeNone" && !slices.Contains(listed, name) {
			t.Errorf("close code constant %s is not checked against reference/protocol: add it to the table", name)
		}
	}
	if len(declared) < len(own) {
		t.Errorf("found close constants %v in the package's files, want at least %d", declared, len(own))
	}
}

// closeConstNames lists the constants named close<Upper>... in the package's non-test files.
func closeConstNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	isClose := regexp.MustCompile(`^close[A-Z]`)
	fset := token.NewFileSet()
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, s := range g.Specs {
					for _, id := range s.(*ast.ValueSpec).Names {
						if isClose.MatchString(id.Name) {
							out = append(out, id.Name)
						}
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
