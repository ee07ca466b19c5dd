package protocol

// WebSocket close codes (SPEC §2). The reference server closes connections with these codes
// (reference/server; a test there checks its constants against these), and
// fixtures/agreement_test.go checks this table against SPEC §2 and the conformance client's.
const (
	CloseNormal           = 1000 // the client closed the connection
	CloseGoingAway        = 1001 // the server is shutting down (FAULT-004)
	CloseProtocolError    = 1002 // a frame broke RFC 6455 (TRANS-013)
	CloseUnsupportedData  = 1003 // a binary frame (TRANS-002)
	CloseInvalidData      = 1007 // a text message that is not UTF-8 (TRANS-013)
	CloseMessageTooBig    = 1009 // a frame over maxFrameBytes (TRANS-009)
	CloseInternalError    = 1011 // the server cannot keep its promises (its journal failed)
	CloseHeartbeatTimeout = 4000 // no frame within heartbeatTimeoutMs (LIVE-020)
	CloseTokenExpired     = 4001 // the connection's UserSig expired (AUTHZ-003)
	CloseSlowConsumer     = 4008 // the send queue was full (CLOSE-001, CLOSE-002)
	CloseReplaced         = 4009 // the same user connected again (AUTH-006)
	CloseResumeRefused    = 4010 // a resume the server cannot honour (RESUME-006)
)
