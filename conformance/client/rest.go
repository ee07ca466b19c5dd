package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// REST API names (SPEC §15) and the path they follow.
const (
	RESTPrefix        = "/v4/live_engine_http_pk/"
	APICreateBattle   = "create_battle"
	APIGetBattleInfo  = "get_battle_info"
	APISetBattleScore = "set_battle_score"
)

// RESTConfig says where and as whom a REST client calls.
type RESTConfig struct {
	// BaseURL is the server's HTTP root, e.g. http://127.0.0.1:7070.
	BaseURL string
	// SDKAppID and Secret sign the identifier's UserSig.
	SDKAppID uint64
	Secret   string
	// Identifier is an app administrator (REST-001).
	Identifier string
	// HTTPClient sends the requests; nil means one with a 10 s timeout.
	HTTPClient *http.Client
	// Check, when set, is called with every request and its answer; an error is recorded as a
	// violation (the suite checks traffic against the OpenAPI description here).
	Check func(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error
}

// REST is a client of the REST API. It is safe for concurrent use.
type REST struct {
	cfg        RESTConfig
	client     *http.Client
	mu         sync.Mutex
	violations []string
	sig        string    // the administrator's UserSig, reused until sigUntil
	sigUntil   time.Time // when to sign a new one
}

// NewREST returns a REST client.
func NewREST(cfg RESTConfig) *REST {
	c := cfg.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	return &REST{cfg: cfg, client: c}
}

// Envelope is the body of every REST answer (REST-002).
type Envelope struct {
	ActionStatus string          `json:"ActionStatus"`
	ErrorCode    int             `json:"ErrorCode"`
	ErrorInfo    string          `json:"ErrorInfo"`
	RequestID    string          `json:"RequestId"`
	Response     json.RawMessage `json:"Response,omitempty"`
}

// RESTError is an answer whose ErrorCode is not 0.
type RESTError struct {
	API       string
	Status    int
	Code      int
	Info      string
	RequestID string
}

// Error implements error.
func (e *RESTError) Error() string {
	return fmt.Sprintf("%s: HTTP %d, ErrorCode %d: %s", e.API, e.Status, e.Code, e.Info)
}

// Query returns a valid query for the configured administrator: sdkappid, identifier, a fresh
// usersig, random and contenttype. Specs alter it to test the framework errors.
func (r *REST) Query() url.Values {
	r.mu.Lock()
	if now := time.Now(); now.After(r.sigUntil) {
		r.sig, _ = SignUserSig(r.cfg.Secret, r.cfg.SDKAppID, r.cfg.Identifier, time.Hour, now)
		r.sigUntil = now.Add(30 * time.Minute) // valid for an hour: renew well before
	}
	sig := r.sig
	r.mu.Unlock()
	return url.Values{
		"sdkappid":    {strconv.FormatUint(r.cfg.SDKAppID, 10)},
		"identifier":  {r.cfg.Identifier},
		"usersig":     {sig},
		"random":      {strconv.FormatUint(uint64(rand.Uint32()), 10)},
		"contenttype": {"json"},
	}
}

// Do sends one request as is and returns the status and the envelope. err is only for a
// request that got no answer or an answer that is not an envelope. A ctx of WithArrival is
// told when the answer arrived.
func (r *REST) Do(ctx context.Context, method, api string, query url.Values, body []byte) (int, Envelope, error) {
	u := strings.TrimSuffix(r.cfg.BaseURL, "/") + RESTPrefix + api
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	ctx, arrival := traceArrival(ctx)
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, Envelope{}, fmt.Errorf("%s: %w", api, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, Envelope{}, fmt.Errorf("%s: %w", api, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, Envelope{}, fmt.Errorf("%s: reading the answer: %w", api, err)
	}
	// The answer's last bytes came with the last read of its connection: HTTP/1 reads the
	// next answer only once this one's body is read to its end (HTTP/2 may read other
	// streams' frames meanwhile: a later time, never an earlier one).
	arrival.answered()
	if r.cfg.Check != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.cfg.Check(req, body, resp.StatusCode, resp.Header, raw); err != nil {
			r.violate("%s: %v", api, err)
		}
	}
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		r.violate("%s: the answer is not a JSON envelope (REST-002): %.200s", api, raw)
		return resp.StatusCode, env, fmt.Errorf("%s: the answer is not a JSON envelope: %w", api, err)
	}
	return resp.StatusCode, env, nil
}

// Call sends body to api with a valid query. A FAIL answer is returned as *RESTError; on
// success the Response is decoded into out unless out is nil.
func (r *REST) Call(ctx context.Context, api string, body any, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: %w", api, err)
	}
	status, env, err := r.Do(ctx, http.MethodPost, api, r.Query(), data)
	if err != nil {
		return err
	}
	if env.ErrorCode != 0 {
		return &RESTError{API: api, Status: status, Code: env.ErrorCode, Info: env.ErrorInfo, RequestID: env.RequestID}
	}
	if out != nil {
		if err := json.Unmarshal(env.Response, out); err != nil {
			r.violate("%s: Response: %v", api, err)
			return fmt.Errorf("%s: Response: %w", api, err)
		}
	}
	return nil
}

func (r *REST) violate(format string, args ...any) {
	r.mu.Lock()
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// Violations returns the REST answers that broke the protocol (envelope, OpenAPI).
func (r *REST) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

// CreateBattleRequest is the body of create_battle (REST-010); Duration is in milliseconds.
type CreateBattleRequest struct {
	FromRoomID    string   `json:"FromRoomId"`
	ToRoomIDList  []string `json:"ToRoomIdList"`
	Duration      int64    `json:"Duration"`
	ExtensionInfo string   `json:"ExtensionInfo,omitempty"`
}

// RoomResult is one room's outcome in create_battle.
type RoomResult struct {
	RoomID        string `json:"RoomId"`
	ResultCode    int    `json:"ResultCode"`
	ResultMessage string `json:"ResultMessage"`
}

// CreateBattleResponse answers create_battle.
type CreateBattleResponse struct {
	BattleID string       `json:"BattleId"`
	Result   []RoomResult `json:"Result"`
}

// RoomScore is a room of a battle in get_battle_info.
type RoomScore struct {
	RoomID       string `json:"RoomId"`
	Score        int64  `json:"Score"`
	OwnerAccount string `json:"Owner_Account"`
}

// GetBattleInfoResponse answers get_battle_info (REST-020).
type GetBattleInfoResponse struct {
	BattleID     string      `json:"BattleId"`
	Duration     int64       `json:"Duration"`
	StartTime    int64       `json:"StartTime"`
	EndTime      int64       `json:"EndTime"`
	Status       int         `json:"Status"`
	FromRoomInfo RoomScore   `json:"FromRoomInfo"`
	ToRoomList   []RoomScore `json:"ToRoomList"`
	ScoreVersion uint64      `json:"ScoreVersion"`
}

// Battle statuses of get_battle_info.
const (
	BattleStatusPending = 1
	BattleStatusRunning = 2
	BattleStatusEnded   = 3
)

// ScoreItem is one room's score in set_battle_score.
type ScoreItem struct {
	RoomID string `json:"RoomId"`
	Score  int64  `json:"Score"`
}

// Score operations of set_battle_score (REST-030).
const (
	OpAdd       = 1
	OpOverwrite = 2
)

// SetBattleScoreRequest is the body of set_battle_score (REST-030, REST-034).
type SetBattleScoreRequest struct {
	BattleID       string      `json:"BattleId"`
	OpType         int         `json:"OpType"`
	ScoreList      []ScoreItem `json:"ScoreList"`
	IdempotencyKey string      `json:"IdempotencyKey,omitempty"`
}

// ScoreResult is one room's outcome in set_battle_score.
type ScoreResult struct {
	RoomID     string `json:"RoomId"`
	ResultCode int    `json:"ResultCode"`
}

// SetBattleScoreResponse answers set_battle_score.
type SetBattleScoreResponse struct {
	Result       []ScoreResult `json:"Result"`
	ScoreVersion uint64        `json:"ScoreVersion"`
}

// CreateBattle calls create_battle.
func (r *REST) CreateBattle(ctx context.Context, req CreateBattleRequest) (CreateBattleResponse, error) {
	var out CreateBattleResponse
	err := r.Call(ctx, APICreateBattle, req, &out)
	return out, err
}

// GetBattleInfo calls get_battle_info with a battle ID or, if it is empty, a room ID.
func (r *REST) GetBattleInfo(ctx context.Context, battleID, roomID string) (GetBattleInfoResponse, error) {
	var out GetBattleInfoResponse
	body := map[string]string{}
	if battleID != "" {
		body["BattleId"] = battleID
	}
	if roomID != "" {
		body["RoomId"] = roomID
	}
	err := r.Call(ctx, APIGetBattleInfo, body, &out)
	return out, err
}

// SetBattleScore calls set_battle_score.
func (r *REST) SetBattleScore(ctx context.Context, req SetBattleScoreRequest) (SetBattleScoreResponse, error) {
	var out SetBattleScoreResponse
	err := r.Call(ctx, APISetBattleScore, req, &out)
	return out, err
}
