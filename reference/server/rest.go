package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/pkarena/pkarena/reference/mutant"
	"github.com/pkarena/pkarena/reference/protocol"
	"github.com/pkarena/pkarena/reference/usersig"
)

// maxRESTBody bounds a REST body (REST-003).
const maxRESTBody = 64 << 10

// restAPIs are the APIs of SPEC §15.
var restAPIs = []string{protocol.APICreateBattle, protocol.APIGetBattleInfo, protocol.APISetBattleScore}

// restParams are the query parameters of REST-001: each may be given once (REST-003).
var restParams = []string{"sdkappid", "identifier", "usersig", "random", "contenttype"}

var restRequestSeq atomic.Uint64

// serveREST answers POST /v4/live_engine_http_pk/{api}: the framework checks of REST-003 in
// their documented order, the rate limit (REST-004), then the call itself on the hub.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	reqID := s.instance + "-r" + strconv.FormatUint(restRequestSeq.Add(1), 10)
	api := strings.TrimPrefix(r.URL.Path, protocol.RESTPrefix)
	if mutant.On(mutant.RESTAPIFolded) {
		api = strings.ToLower(strings.Trim(api, "/")) // routes matched as Tencent's gateway does
	}
	apiLabel := api
	if !slices.Contains(restAPIs, api) {
		apiLabel = labelUnknown
	}
	fail := func(status int, err *protocol.Error) {
		s.log.Debug("REST refused", "path", r.URL.Path, "code", err.Code, "err", err.Message)
		s.metrics.restResult(apiLabel, err.Code)
		writeEnvelope(w, status, protocol.RESTEnvelope{ActionStatus: "FAIL", ErrorCode: err.Code, ErrorInfo: err.Message, RequestID: reqID})
	}
	if r.Method != http.MethodPost && !(mutant.On(mutant.OnlyGetRefused) && r.Method != http.MethodGet && r.Method != http.MethodHead) {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, protocol.ErrHTTPParse.With("method %s: the REST API takes POST", r.Method))
		return
	}
	q := r.URL.Query()
	if name := repeatedParam(r.URL.RawQuery, restParams); name != "" && !mutant.On(mutant.RESTRepeatedParamFirstCounts) {
		fail(http.StatusOK, protocol.ErrHTTPParse.With("%s: given more than once", name))
		return
	}
	if mutant.On(mutant.UnknownAPIFirst) && apiLabel == labelUnknown {
		fail(http.StatusOK, protocol.ErrHTTPParse.With("unknown API %q", api))
		return
	}
	rawAppID := q.Get("sdkappid")
	if rawAppID == "" {
		fail(http.StatusOK, protocol.ErrMissingSDKAppID.With("sdkappid: missing"))
		return
	}
	appID, err := strconv.ParseUint(rawAppID, 10, 64)
	if err != nil || appID != s.cfg.SDKAppID {
		fail(http.StatusOK, protocol.ErrSDKAppIDInvalid.With("sdkappid %q is not served here", rawAppID))
		return
	}
	identifier := q.Get("identifier")
	if perr := usersig.Verify(q.Get("usersig"), s.cfg.Secret, appID, identifier, time.Now()); perr != nil && !mutant.On(mutant.RESTSigUnchecked) {
		fail(http.StatusOK, protocol.ErrAccountSignature.With("%s (%s)", perr.Message, protocol.CodeName(perr.Code)))
		return
	}
	if !slices.Contains(s.cfg.AdminIdentifiers, identifier) {
		fail(http.StatusOK, protocol.ErrNeedAdminRole.With("identifier %q is not an app administrator", identifier))
		return
	}
	s.admission.authenticate(r) // an administrator's call: never evicted mid-request
	markRESTCaller(r)           // and its next request is waited for eagerly
	if apiLabel == labelUnknown {
		fail(http.StatusOK, protocol.ErrHTTPParse.With("unknown API %q", api))
		return
	}
	if n, err := strconv.ParseUint(q.Get("random"), 10, 32); err != nil || mutant.On(mutant.RandomZeroRefused) && n == 0 {
		fail(http.StatusOK, protocol.ErrHTTPParse.With("random: a decimal from 0 to 4294967295 is required"))
		return
	}
	if mutant.On(mutant.RequestIDFromRandom) {
		reqID = s.instance + "-" + q.Get("random")
	}
	if q.Get("contenttype") != "json" && !(mutant.On(mutant.ContentTypeAnyCase) && strings.EqualFold(q.Get("contenttype"), "json")) {
		fail(http.StatusOK, protocol.ErrHTTPParse.With("contenttype: must be json"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRESTBody+1))
	if err != nil {
		fail(http.StatusOK, protocol.ErrHTTPParse.With("body: %v", err))
		return
	}
	if len(body) > maxRESTBody {
		fail(http.StatusOK, protocol.ErrHTTPParse.With("body: larger than %d bytes", maxRESTBody))
		return
	}
	if mutant.On(mutant.RESTTrailingAccepted) {
		// the body is the JSON object it starts with (a streaming decoder reads one value)
		var first json.RawMessage
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' && json.NewDecoder(bytes.NewReader(t)).Decode(&first) == nil {
			body = first
		}
	}
	if mutant.On(mutant.RESTBodyTrimmedAsText) {
		body = bytes.TrimFunc(body, func(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' })
	}
	// A JSON text (RFC 8259): around the object, JSON's whitespace (space, tab, CR, LF) and
	// nothing else; not a byte order mark, nor the Unicode spaces bytes.TrimSpace would drop.
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' || !json.Valid(body) || mutant.On(mutant.NestingLimitLow) && nestingDepth(body) > lowNestingDepth {
		fail(http.StatusOK, protocol.ErrJSONParse.With("body: %s", unreadable(body)))
		return
	}
	if !s.restLimit.Allow() && !mutant.On(mutant.NoRESTRateLimit) {
		fail(http.StatusOK, protocol.ErrRESTRateLimited.With("more than %d requests per second", s.cfg.RESTRateLimit))
		return
	}
	call := &restCall{api: api, operator: identifier, body: body, reply: make(chan restOutcome, 1), arrived: arrived, remote: r.RemoteAddr}
	if !s.post(hubMsg{kind: msgREST, rest: call}) {
		fail(http.StatusOK, protocol.ErrInternal.With("server shutting down"))
		return
	}
	var out restOutcome
	select {
	case out = <-call.reply:
	case <-s.stopped:
		fail(http.StatusOK, protocol.ErrInternal.With("server shutting down"))
		return
	}
	if out.err != nil {
		fail(http.StatusOK, out.err)
		return
	}
	s.metrics.restResult(apiLabel, 0)
	writeEnvelope(w, http.StatusOK, protocol.RESTEnvelope{ActionStatus: "OK", RequestID: reqID, Response: out.resp})
}

func writeEnvelope(w http.ResponseWriter, status int, env protocol.RESTEnvelope) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(env)
}
