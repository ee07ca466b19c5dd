package server

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

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

// TestRefusedFramesEndTheirSessions checks that a connection the server closes for a frame it
// refused ended with that close frame, not a drop, whoever wrote it (the server's own checks,
// or gorilla for a broken frame, which reads back as a plain error): it is counted under its
// code and its session ends at once, with resume on (RESUME-001).
func TestRefusedFramesEndTheirSessions(t *testing.T) {
	const maxFrame = 1024
	for _, tt := range []struct {
		name    string
		code    int
		opcode  int
		payload string
	}{
		{"a reserved opcode", websocket.CloseProtocolError, 3, ""},
		{"a continuation without a first frame", websocket.CloseProtocolError, 0, "{}"},
		{"a binary frame", protocol.CloseUnsupportedData, websocket.BinaryMessage, "{}"},
		{"a text frame that is not UTF-8", protocol.CloseInvalidData, websocket.TextMessage, "%FF"},
		{"a frame over the limit", websocket.CloseMessageTooBig, websocket.TextMessage, strings.Repeat(" ", maxFrame+1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, base := newTestServer(t, func(c *Config) {
				c.ResumeWindow = time.Minute
				c.MaxFrameBytes = maxFrame
			})
			host := dial(t, base, "host")
			if f := host.call(protocol.ReqCreateLive, map[string]any{"liveID": "r"}); *f.Code != 0 {
				t.Fatalf("createLive: %s", *f.Message)
			}
			writeRaw(t, host, wire(t, tt.opcode, tt.payload))
			expectClose(t, host, tt.code)
			waitFor(t, func() error {
				return checkMetrics(scrape(t, base), []metricWant{
					{"pkarena_connections_closed_total", []string{fmt.Sprintf("code=%d", tt.code)}, 1},
					{"pkarena_connections_open", nil, 0},
				})
			})
			if err := checkMetrics(scrape(t, base), []metricWant{
				{"pkarena_sessions_in_grace", nil, 0},
				{"pkarena_connections_closed_total", []string{"code=1006"}, -1}, // -1: none
			}); err != nil {
				t.Error(err)
			}
		})
	}
}
