package client

import (
	"errors"
	"fmt"
)

// Error is a reply with a non-zero code (SPEC TRANS-006).
type Error struct {
	// Type is the request type that was refused.
	Type string
	// Code is the error code of SPEC §13.
	Code int
	// Message is the server's explanation.
	Message string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%s: code %d: %s", e.Type, e.Code, e.Message) }

// CodeOf returns the protocol error code of err (a WebSocket reply or a REST answer): 0 for
// nil, -1 for an error that is not a refusal by the server (a closed connection, a timeout, a
// malformed reply).
func CodeOf(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var re *RESTError
	if errors.As(err, &re) {
		return re.Code
	}
	return -1
}

// HandshakeError is a refused WebSocket handshake (SPEC AUTH-001, AUTH-003..005).
type HandshakeError struct {
	// Status is the HTTP status of the refusal.
	Status int
	// Code and Message are the JSON body's fields; Code is 0 if the body was not such JSON.
	Code    int
	Message string
	// Body is the response body as received (at most 4 KiB).
	Body []byte
}

// Error implements error.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("handshake refused: HTTP %d, code %d: %s", e.Status, e.Code, e.Message)
}

// ErrClosed is returned by calls on a connection that has closed.
var ErrClosed = errors.New("client: connection closed")
