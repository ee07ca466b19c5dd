// Package client is a Go client of the pkarena signalling protocol v1 (conformance/SPEC.md).
//
// The conformance suite and the load generator talk to servers through this package only. It
// keeps its own copy of every wire type and its own UserSig signer instead of importing the
// reference server's, so that a mistake in the server's types cannot hide from the suite.
//
// A Client has one reader goroutine. It checks every server frame as it arrives (sequence
// numbers, reply ids, and an optional schema check supplied by the caller), hands replies to
// the call waiting for them and records events in an ordered log that callers wait on.
// Violations of the protocol are recorded, never silently dropped; Violations returns them.
package client
