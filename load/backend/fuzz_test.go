package backend

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// webhookSeeds are webhook bodies: the server's three commands (SPEC §16), then hostile ones.
var webhookSeeds = []string{
	`{"CallbackCommand":"Live.CallbackAfterCreateBattle","EventId":"b1-create","Operator_Account":"administrator","BattleId":"b1","FromRoomId":"r1","ToRoomIdList":["r2"],"Timeout":0,"Duration":300000,"NeedResponse":false,"ExtensionInfo":"","EventTime":1700000000000}`,
	`{"CallbackCommand":"Live.CallbackAfterStartBattle","EventId":"b1-start","BattleId":"b1","Duration":300000,"CreateTime":1700000000,"StartTime":1700000000,"FromRoomInfo":{"RoomId":"r1","Owner_Account":"h1"},"ToRoomList":[{"RoomId":"r2","Owner_Account":"h2"}],"EventTime":1700000000000}`,
	`{"CallbackCommand":"Live.CallbackAfterEndBattle","EventId":"b0-end","BattleId":"b0","OpType":0,"FromRoomInfo":{"RoomId":"r0","Score":10,"Owner_Account":"h0"},"ToRoomList":[{"RoomId":"r9","Score":3,"Owner_Account":"h9"}]}`,
	`{"CallbackCommand":"Live.CallbackAfterStartBattle","BattleId":"","FromRoomInfo":{"RoomId":""},"ToRoomList":null}`,
	`{"CallbackCommand":"Live.CallbackAfterStartBattle","ToRoomList":[1,2]}`,
	`{"CallbackCommand":7}`,
	`[]`, `null`, ``, `{`, "\xff",
	`{"CallbackCommand":"Live.CallbackAfterStartBattle","ToRoomList":[` + strings.Repeat(`{"RoomId":"r"},`, 1000) + `{}]}`,
	`{"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
}

// hookBody is the part of a webhook the test reads back, independently of the handler.
type hookBody struct {
	CallbackCommand string
	BattleID        string `json:"BattleId"`
	FromRoomInfo    struct {
		RoomID string `json:"RoomId"`
	}
	ToRoomList []struct {
		RoomID string `json:"RoomId"`
	}
}

// FuzzWebhooks checks the backend's webhook handler on arbitrary bodies, with room r0 already
// battling in b0: it never panics; it answers 200 with a JSON OK envelope or 400; after a start
// webhook it accepted every room named battles in its battle, and after an end webhook no room
// named still battles in the ended battle.
func FuzzWebhooks(f *testing.F) {
	for _, s := range webhookSeeds {
		f.Add([]byte(s))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		b := New(Config{Logger: log})
		b.battles["r0"], b.battles["r9"] = "b0", "b0"
		rec := httptest.NewRecorder()
		b.Webhooks().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body)))
		switch rec.Code {
		case http.StatusBadRequest:
			return
		case http.StatusOK:
		default:
			t.Fatalf("webhook %q: status %d; want 200 or 400", body, rec.Code)
		}
		var env struct{ ActionStatus string }
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.ActionStatus != "OK" {
			t.Fatalf("webhook %q: answered 200 with %q", body, rec.Body.Bytes())
		}
		var h hookBody
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatalf("webhook %q accepted but not a webhook body: %v", body, err)
		}
		rooms := []string{h.FromRoomInfo.RoomID}
		for _, r := range h.ToRoomList {
			rooms = append(rooms, r.RoomID)
		}
		for _, room := range rooms {
			got := b.BattleOf(room)
			switch h.CallbackCommand {
			case "Live.CallbackAfterStartBattle":
				if got != h.BattleID {
					t.Fatalf("after the start of %q, room %q battles in %q", h.BattleID, room, got)
				}
			case "Live.CallbackAfterEndBattle":
				if got == h.BattleID && got != "" {
					t.Fatalf("after the end of %q, room %q still battles in it", h.BattleID, room)
				}
			}
		}
	})
}
