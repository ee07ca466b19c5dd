// Package client is pkarena's Go client library of the signalling protocol v1
// (conformance/SPEC.md) and its REST API: the WebSocket client, the REST client, the UserSig
// signer and the wire types. It lives beside the suite because the suite was its first user,
// but it is the project's client: the conformance suite and the load generator (load/engine,
// load/demo, load/backend, ...) talk to servers through this package only, and any Go program
// may use it to speak to a pkarena-compatible server. It keeps its own copy of every wire type
// and its own UserSig signer instead of importing the reference server's, so that a mistake
// in the server's types cannot hide from the suite.
//
// A Client has one reader: a goroutine of its own, or with DirectRead on Linux one of a few
// pollers shared by every such connection (Config.DirectRead). It checks every server frame
// as it arrives (sequence numbers, reply ids, and an optional schema check supplied by the
// caller), hands replies to the call waiting for them and records events in an ordered log
// that callers wait on.
// Violations of the protocol are recorded, never silently dropped; Violations returns them.
package client
