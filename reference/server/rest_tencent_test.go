package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pkarena/pkarena/reference/protocol"
	"github.com/pkarena/pkarena/reference/usersig"
)

// tencentCall POSTs body, as is, to api with the query a Tencent backend sends, and returns
// the decoded envelope.
func tencentCall(t *testing.T, base, api, body string) map[string]any {
	t.Helper()
	cfg := DefaultConfig()
	sig, err := usersig.Sign(cfg.Secret, cfg.SDKAppID, "administrator", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"sdkappid": {fmt.Sprint(cfg.SDKAppID)}, "identifier": {"administrator"}, "usersig": {sig}, "random": {"99999999"}, "contenttype": {"json"}}
	resp, err := http.Post(base+protocol.RESTPrefix+api+"?"+q.Encode(), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", api, resp.StatusCode, raw)
	}
	if env["ErrorCode"] != 0.0 || env["ActionStatus"] != "OK" || env["ErrorInfo"] != "" || env["RequestId"] == "" {
		t.Fatalf("%s(%s) = %s; want OK", api, body, raw)
	}
	return env["Response"].(map[string]any)
}

// A business backend written against Tencent's REST documentation works unchanged: the
// request bodies below are the documented examples (research/atomicx-api.md §2.2-2.4, from
// trtc.io/document/68254, 68256, 68255), with only the BattleId placeholder "…" filled in.
func TestTencentDocumentedBodies(t *testing.T) {
	_, wsBase := newTestServer(t, nil)
	base := "http" + strings.TrimPrefix(strings.TrimSuffix(wsBase, protocol.Path), "ws")
	for _, room := range []string{"pk-1", "pk-2", "pk-3", "pk-live1", "pk-live2"} {
		c := dial(t, wsBase, "host-"+room)
		if f := c.call(protocol.ReqCreateLive, map[string]string{"liveID": room}); *f.Code != 0 {
			t.Fatalf("createLive %s: %s", room, *f.Message)
		}
	}

	// create_battle, documented request. REST battles need no connection (Tencent: "this API
	// does not verify the connection status").
	created := tencentCall(t, base, protocol.APICreateBattle, `{"FromRoomId":"pk-1","ToRoomIdList":["pk-2","pk-3"],"Duration":60000,"ExtensionInfo":"extension pk"}`)
	battleID, _ := created["BattleId"].(string)
	results, _ := created["Result"].([]any)
	if battleID == "" || len(results) != 2 {
		t.Fatalf("create_battle Response = %v; want a BattleId and two Result entries", created)
	}
	for i, r := range results {
		m := r.(map[string]any)
		if m["RoomId"] != []string{"pk-2", "pk-3"}[i] || m["ResultCode"] != 0.0 {
			t.Errorf("Result[%d] = %v; want ResultCode 0", i, m)
		}
		if _, ok := m["ResultMessage"]; !ok {
			t.Errorf("Result[%d] lacks ResultMessage", i)
		}
	}

	// get_battle_info, documented request: BattleId plus an optional RoomId that names no
	// battle ("room_pk1"); BattleId wins.
	info := tencentCall(t, base, protocol.APIGetBattleInfo, `{"BattleId":"`+battleID+`", "RoomId":"room_pk1"}`)
	for _, field := range []string{"BattleId", "Duration", "StartTime", "EndTime", "Status", "FromRoomInfo", "ToRoomList"} {
		if _, ok := info[field]; !ok {
			t.Errorf("get_battle_info Response lacks %s: %v", field, info)
		}
	}
	if info["Duration"] != 60000.0 || info["Status"] != 2.0 {
		t.Errorf("get_battle_info = Duration %v Status %v; want 60000 ms and running", info["Duration"], info["Status"])
	}
	from := info["FromRoomInfo"].(map[string]any)
	if from["RoomId"] != "pk-1" || from["Owner_Account"] != "host-pk-1" || from["Score"] != 0.0 {
		t.Errorf("FromRoomInfo = %v", from)
	}

	// set_battle_score, documented request, on a battle between the documented rooms.
	live := tencentCall(t, base, protocol.APICreateBattle, `{"FromRoomId":"pk-live1","ToRoomIdList":["pk-live2"],"Duration":60000}`)
	liveID := live["BattleId"].(string)
	set := tencentCall(t, base, protocol.APISetBattleScore, `{"BattleId":"`+liveID+`","OpType":1,"ScoreList":[{"RoomId":"pk-live1","Score":100},{"RoomId":"pk-live2","Score":100}]}`)
	want := []any{map[string]any{"RoomId": "pk-live1", "ResultCode": 0.0}, map[string]any{"RoomId": "pk-live2", "ResultCode": 0.0}}
	if got := set["Result"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("set_battle_score Result = %v; want %v", got, want)
	}
	// The English page types OpType as a string.
	tencentCall(t, base, protocol.APISetBattleScore, `{"BattleId":"`+liveID+`","OpType":"2","ScoreList":[{"RoomId":"pk-live1","Score":100}]}`)
	final := tencentCall(t, base, protocol.APIGetBattleInfo, `{"BattleId":"`+liveID+`"}`)
	if s := final["FromRoomInfo"].(map[string]any)["Score"]; s != 100.0 {
		t.Errorf("pk-live1 after add 100 then overwrite 100 = %v; want 100", s)
	}
	if s := final["ToRoomList"].([]any)[0].(map[string]any)["Score"]; s != 100.0 {
		t.Errorf("pk-live2 = %v; want 100", s)
	}
}
