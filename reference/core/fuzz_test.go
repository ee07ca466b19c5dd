package core

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/pkarena/pkarena/reference/protocol"
)

// payloadTypes makes a fresh value of every type the core decodes a payload into: the
// requests' (dispatch.go) and the REST bodies' (rest.go).
var payloadTypes = []func() any{
	func() any { return new(protocol.Empty) },
	func() any { return new(protocol.CreateLive) },
	func() any { return new(protocol.LiveRef) },
	func() any { return new(protocol.FetchLiveList) },
	func() any { return new(protocol.SeatRef) },
	func() any { return new(protocol.UserRef) },
	func() any { return new(protocol.MoveUserToSeat) },
	func() any { return new(protocol.RequestConnection) },
	func() any { return new(protocol.LiveIDList) },
	func() any { return new(protocol.RequestBattle) },
	func() any { return new(protocol.CancelBattleRequest) },
	func() any { return new(protocol.BattleRef) },
	func() any { return new(protocol.CreateBattle) },
	func() any { return new(protocol.GetBattleInfo) },
	func() any { return new(protocol.SetBattleScore) },
}

// decodeSeeds are payloads and REST bodies: the SPEC's examples, then hostile ones.
var decodeSeeds = []string{
	``,
	`null`,
	`{}`,
	`{"liveID":"live_1001","liveName":"Evening show","isPublicVisible":true,"seatTemplate":600,"maxSeatCount":9}`,
	`{"cursor":"","count":20}`,
	`{"seatIndex":3}`,
	`{"userID":"alice","targetIndex":2,"policy":2}`,
	`{"liveIDs":["live_2002","live_3003"],"timeout":10,"extensionInfo":"hi"}`,
	`{"config":{"duration":300,"needResponse":true,"extensionInfo":"x"},"userIDs":["bob"],"timeout":10}`,
	`{"battleID":"b-1","userIDs":["bob","carol"]}`,
	`{"FromRoomId":"live_1001","ToRoomIdList":["live_2002"],"Duration":300000,"ExtensionInfo":"ext"}`,
	`{"BattleId":"b-1","RoomId":"live_1001"}`,
	`{"BattleId":"b-1","OpType":1,"ScoreList":[{"RoomId":"live_1001","Score":100}],"IdempotencyKey":"gift-1"}`,
	`{"BattleId":"b-1","OpType":"2","ScoreList":[{"RoomId":"live_1001","Score":9007199254740991}]}`,
	// Keys that differ from the field names only in case are unknown fields (TRANS-012).
	`{"LIVEID":"x","liveId":"y","liveID":"z","config":{"NeedResponse":true},"scorelist":[{"roomid":"r"}]}`,
	`{"ScoreList":[{"ROOMID":"r","Score":1},{"RoomId":"s","score":2}],"OPTYPE":1}`,
	// Wrong types, huge numbers, NaN, invalid UTF-8 and lone surrogates, duplicates.
	`{"seatIndex":"3","count":1.5,"liveIDs":"x"}`,
	`{"seatIndex":1e400,"Duration":99999999999999999999999,"OpType":-1}`,
	`{"OpType":"3"}`,
	// Integers however written (§6): 2.0, 2e0, 20E-1, -0; beyond ±(2^53 − 1); fractions.
	`{"seatIndex":2.0,"count":1e1,"maxSeatCount":20E-1,"seatTemplate":-0,"OpType":1.0}`,
	`{"config":{"duration":6e1},"timeout":-0.0,"ScoreList":[{"RoomId":"r","Score":5.00}],"Duration":6E4}`,
	`{"seatIndex":9007199254740992,"Score":-9007199254740992,"count":1.0000001,"timeout":1e-400}`,
	`{"OpType":true}`,
	`{"liveID":NaN}`,
	"{\"liveID\":\"\xff\xfe\",\"liveName\":\"\\udc00\\ud800\"}",
	`{"liveID":"a","liveID":"b","LiveID":"c"}`,
	`[1,2,3]`,
	`"string"`,
	`{"liveID":"x"} trailing`,
	`{"x-pad":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
	`{"config":` + strings.Repeat(`{"config":`, 50) + `{}` + strings.Repeat("}", 50) + `}`,
}

// FuzzDecode checks the strict payload decoder on every payload type: it never panics, it
// refuses with 100002 (INVALID_PARAMETER) only, and a payload it accepts re-encodes to one
// that decodes to the same value. It also checks normalize: valid JSON stays valid, and
// normalizing is idempotent.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, newT := range payloadTypes {
			v := newT()
			if err := decode(raw, v); err != nil {
				if err.Code != protocol.ErrInvalidParameter.Code {
					t.Fatalf("decode(%q, %T) = code %d; want %d", raw, v, err.Code, protocol.ErrInvalidParameter.Code)
				}
				continue
			}
			again, merr := json.Marshal(v)
			if merr != nil {
				t.Fatalf("decode(%q, %T) accepted a value that does not marshal: %v", raw, v, merr)
			}
			w := newT()
			if err := decode(again, w); err != nil {
				t.Fatalf("decode(%q, %T) = %+v, whose encoding %s is refused: %v", raw, v, v, again, err)
			}
			if !reflect.DeepEqual(v, w) {
				t.Fatalf("decode(%q, %T) = %+v; its encoding %s decodes to %+v", raw, v, v, again, w)
			}
			if trimmed := bytes.TrimSpace(raw); json.Valid(trimmed) {
				typ := reflect.TypeOf(v)
				once, err := normalize(trimmed, typ)
				if err != nil {
					t.Fatalf("normalize(%q, %v) refused what decode accepted: %v", trimmed, typ, err)
				}
				if !json.Valid(once) {
					t.Fatalf("normalize(%q, %v) = %q: not JSON", trimmed, typ, once)
				}
				if twice, _ := normalize(once, typ); !bytes.Equal(once, twice) {
					t.Fatalf("normalize is not idempotent on %q: %q then %q", trimmed, once, twice)
				}
			}
		}
	})
}

// FuzzCursor checks fetchLiveList's cursors: decodeCursor never panics, a cursor it accepts
// re-encodes to one with the same position, and every encoded position decodes back.
func FuzzCursor(f *testing.F) {
	f.Add("", uint64(0))
	f.Add(encodeCursor(42), uint64(42))
	f.Add("nope", uint64(1<<63))
	f.Add("cGthcmVuYS12MTotMQ", uint64(7))  // "pkarena-v1:-1"
	f.Add("cGthcmVuYS12MTowMDc", uint64(7)) // "pkarena-v1:007"
	f.Fuzz(func(t *testing.T, s string, seq uint64) {
		if got, ok := decodeCursor(s); ok {
			if again, ok := decodeCursor(encodeCursor(got)); !ok || again != got {
				t.Fatalf("decodeCursor(%q) = %d, whose cursor decodes to %d, %v", s, got, again, ok)
			}
		}
		if got, ok := decodeCursor(encodeCursor(seq)); !ok || got != seq {
			t.Fatalf("decodeCursor(encodeCursor(%d)) = %d, %v", seq, got, ok)
		}
	})
}

// handleSeeds are requests as the hub hands them to the core: a type and a raw payload.
var handleSeeds = []struct {
	typ, payload string
}{
	{protocol.ReqHeartbeat, `{}`},
	{protocol.ReqCreateLive, `{"liveID":"r9","liveName":"new","maxSeatCount":2}`},
	{protocol.ReqJoinLive, `{"liveID":"r0"}`},
	{protocol.ReqLeaveLive, ``},
	{protocol.ReqEndLive, `null`},
	{protocol.ReqFetchLiveList, `{"count":1}`},
	{protocol.ReqFetchLiveList, `{"cursor":"cGthcmVuYS12MTox","count":100}`},
	{protocol.ReqFetchLiveInfo, `{"liveID":"r1"}`},
	{protocol.ReqTakeSeat, `{"seatIndex":2}`},
	{protocol.ReqTakeSeat, `{"seatIndex":-1}`},
	{protocol.ReqLeaveSeat, `{}`},
	{protocol.ReqLockSeat, `{"seatIndex":1}`},
	{protocol.ReqUnlockSeat, `{"seatIndex":1}`},
	{protocol.ReqKickUserOutOfSeat, `{"userID":"u2"}`},
	{protocol.ReqMoveUserToSeat, `{"userID":"u2","targetIndex":0,"policy":2}`},
	{protocol.ReqMuteMicrophone, `{}`},
	{protocol.ReqUnmuteMicrophone, `{}`},
	{protocol.ReqRequestConnection, `{"liveIDs":["r2","r3"],"timeout":0}`},
	{protocol.ReqCancelConnectionRequest, `{"liveIDs":["r2"]}`},
	{protocol.ReqAcceptConnection, `{"liveID":"r1"}`},
	{protocol.ReqRejectConnection, `{"liveID":"r1"}`},
	{protocol.ReqDisconnect, `{}`},
	{protocol.ReqRequestBattle, `{"userIDs":["u1"],"config":{"needResponse":true,"duration":5},"timeout":1}`},
	{protocol.ReqCancelBattleRequest, `{"battleID":"b1","userIDs":["u1"]}`},
	{protocol.ReqAcceptBattle, `{"battleID":"b1"}`},
	{protocol.ReqRejectBattle, `{"battleID":"b1"}`},
	{protocol.ReqExitBattle, `{"battleID":"b1"}`},
	{"explode", `{}`},
	{protocol.ReqRequestConnection, `{"liveIDs":["r2","r2"]}`},
	{protocol.ReqRequestBattle, `{"userIDs":["u1"],"config":{"needResponse":false},"timeout":5}`},
	{protocol.ReqExitBattle, `{"battleID":"` + strings.Repeat("b", 129) + `"}`},
	{protocol.ReqCreateLive, "{\"liveID\":\"r\\u0000x\",\"liveName\":\"\xff\"}"},
}

// FuzzHandle runs one arbitrary request, as any member of a scene with rooms, seats, a group,
// a pending request and a running battle. A refused request must carry a code of the error
// table (never 100001), cause no event and change nothing (INPUT-004); an accepted one must
// leave every invariant of the core intact (see machine.checkInvariants).
func FuzzHandle(f *testing.F) {
	for i, s := range handleSeeds {
		f.Add(byte(i), s.typ, []byte(s.payload))
	}
	f.Fuzz(func(t *testing.T, who byte, typ string, payload []byte) {
		m := newScene(t)
		m.handle(int(who)%numUsers, typ, payload)
	})
}

// restSeeds are REST calls: an API and a body.
var restSeeds = []struct {
	api, body string
}{
	{protocol.APICreateBattle, `{"FromRoomId":"r2","ToRoomIdList":["r3"],"Duration":300000}`},
	{protocol.APICreateBattle, `{"FromRoomId":"r2","ToRoomIdList":["r3","r0","nope"],"Duration":1499,"ExtensionInfo":"x"}`},
	{protocol.APIGetBattleInfo, `{"BattleId":"b1"}`},
	{protocol.APIGetBattleInfo, `{"RoomId":"r0"}`},
	{protocol.APIGetBattleInfo, `{"BattleId":"","RoomId":""}`},
	{protocol.APISetBattleScore, `{"BattleId":"b1","OpType":1,"ScoreList":[{"RoomId":"r0","Score":10},{"RoomId":"r1","Score":3}]}`},
	{protocol.APISetBattleScore, `{"BattleId":"b1","OpType":"2","ScoreList":[{"RoomId":"r0","Score":9007199254740991},{"RoomId":"r0","Score":1}]}`},
	{protocol.APISetBattleScore, `{"BattleId":"b1","OpType":1,"ScoreList":[{"RoomId":"r0","Score":9007199254740991}],"IdempotencyKey":"k"}`},
	{protocol.APISetBattleScore, `{"BattleId":"b1","OpType":3,"ScoreList":[{"RoomId":"r0","Score":1}]}`},
	{protocol.APISetBattleScore, `{"BattleId":"b1","OpType":1,"ScoreList":[{"RoomId":"r0","Score":-1}]}`},
	{protocol.APISetBattleScore, `{"BattleId":"b1","OpType":1,"ScoreList":[{"RoomId":"r0","Score":1.5}]}`},
	{"delete_battle", `{}`},
	{protocol.APISetBattleScore, `[]`},
}

// FuzzREST runs one arbitrary REST call on the same scene. A refused call must carry a code
// of the error table and change nothing (REST-005); an accepted set_battle_score moves the
// scores exactly as its accepted items say (checked against the model of machine.rest).
func FuzzREST(f *testing.F) {
	for _, s := range restSeeds {
		f.Add(s.api, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, api string, body []byte) {
		m := newScene(t)
		m.rest(api, body)
	})
}
