package protocol

import "fmt"

// Error is a protocol error: a code from the table in SPEC §13 and a message. Replies carry
// both; the message may be more specific than the table's text (it names the field at fault).
type Error struct {
	Code    int
	Message string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, CodeName(e.Code), e.Message) }

// Is makes errors.Is match two *Error values with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// With returns a copy of e whose message is formatted from the arguments.
func (e *Error) With(format string, args ...any) *Error {
	return &Error{Code: e.Code, Message: fmt.Sprintf(format, args...)}
}

// The table itself — the Err values, Errors and the code names — is generated into
// errors_table.go from fixtures/errors.tsv, the data file the client's codes come from too;
// fixtures/agreement_test.go checks it against SPEC §13.
//
//go:generate go run ../../tools/gencodes -root ../..

// CodeName returns the table name of a code, or "UNKNOWN".
func CodeName(code int) string {
	if n, ok := codeNames[code]; ok {
		return n
	}
	return "UNKNOWN"
}
