package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/pkarena/pkarena/reference/mutant"
)

// RESTPrefix is the path of the REST API (SPEC REST-001); the API name follows it.
const RESTPrefix = "/v4/live_engine_http_pk/"

// REST API names (SPEC §15).
const (
	APICreateBattle   = "create_battle"
	APIGetBattleInfo  = "get_battle_info"
	APISetBattleScore = "set_battle_score"
)

// RESTEnvelope is the body of every REST answer (REST-002). Response is omitted on failure.
type RESTEnvelope struct {
	ActionStatus string `json:"ActionStatus"`
	ErrorCode    int    `json:"ErrorCode"`
	ErrorInfo    string `json:"ErrorInfo"`
	RequestID    string `json:"RequestId"`
	Response     any    `json:"Response,omitempty"`
}

// CreateBattle is the create_battle request (REST-010).
type CreateBattle struct {
	FromRoomID    string   `json:"FromRoomId"`
	ToRoomIDList  []string `json:"ToRoomIdList"`
	Duration      *int64   `json:"Duration"`
	ExtensionInfo string   `json:"ExtensionInfo"`
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

// GetBattleInfo is the get_battle_info request (REST-020).
type GetBattleInfo struct {
	BattleID string `json:"BattleId"`
	RoomID   string `json:"RoomId"`
}

// RoomScore is a room of a battle in get_battle_info.
type RoomScore struct {
	RoomID       string `json:"RoomId"`
	Score        int64  `json:"Score"`
	OwnerAccount string `json:"Owner_Account"`
}

// GetBattleInfoResponse answers get_battle_info.
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

// OpType is set_battle_score's operation. Tencent documents it both as a number and as a
// string, so both decode (REST-030).
type OpType int

// UnmarshalJSON accepts 1, 2, "1" and "2".
func (o *OpType) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != "1" && s != "2" {
			if mutant.On(mutant.OpTypeLoose) {
				*o = 1 // a string OpType means overwrite when it is "2", else add
				return nil
			}
			return fmt.Errorf("OpType %q: must be 1 or 2", s)
		}
		*o = OpType(s[0] - '0')
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("OpType must be 1 or 2")
	}
	*o = OpType(n)
	return nil
}

// Score operations.
const (
	OpAdd       OpType = 1
	OpOverwrite OpType = 2
)

// ScoreItem is one room's score in set_battle_score.
type ScoreItem struct {
	RoomID string `json:"RoomId"`
	Score  *int64 `json:"Score"`
}

// SetBattleScore is the set_battle_score request (REST-030, REST-034).
type SetBattleScore struct {
	BattleID       string      `json:"BattleId"`
	OpType         *OpType     `json:"OpType"`
	ScoreList      []ScoreItem `json:"ScoreList"`
	IdempotencyKey string      `json:"IdempotencyKey"`
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

// MaxScore is the largest score a room may have: the largest integer a JSON number carries
// exactly in every client (2^53 - 1).
const MaxScore = 1<<53 - 1
