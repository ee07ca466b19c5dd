package core

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pkarena/pkarena/reference/protocol"
)

type fakeClock struct{ now time.Time }

func (f *fakeClock) Now() time.Time          { return f.now }
func (f *fakeClock) Advance(d time.Duration) { f.now = f.now.Add(d) }

// testCore wraps a Core with users by name and the events each session received.
type testCore struct {
	t      testing.TB
	c      *Core
	clock  *fakeClock
	sess   map[string]SessionID
	next   SessionID
	events map[SessionID][]Delivery
}

func newTestCore(t testing.TB) *testCore {
	t.Helper()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	return &testCore{
		t: t, clock: clock,
		c:    New(testConfig(), clock),
		sess: map[string]SessionID{}, events: map[SessionID][]Delivery{},
	}
}

// testConfig is the documented defaults.
func testConfig() Config {
	return Config{
		MaxConnectedRooms: 9, MaxUsersPerRoom: 50, MaxSeatCount: 16, DefaultInviteTimeout: 30 * time.Second,
		DefaultBattleDuration: 300 * time.Second, MaxBattleDuration: 24 * time.Hour,
		MaxBattleRequestsPerMinute: 20, BattleRetention: 10 * time.Minute, IDPrefix: "b",
	}
}

func (tc *testCore) user(name string) SessionID {
	if s, ok := tc.sess[name]; ok {
		return s
	}
	tc.next++
	tc.sess[name] = tc.next
	tc.c.Connect(tc.next, User{ID: name, Name: "N-" + name})
	return tc.next
}

func (tc *testCore) record(out []Delivery) {
	for _, d := range out {
		for _, s := range d.To {
			tc.events[s] = append(tc.events[s], Delivery{To: []SessionID{s}, Type: d.Type, Payload: d.Payload})
		}
	}
}

// do runs a request and returns its reply and error code (0 on success).
func (tc *testCore) do(name, typ string, payload any) (any, int) {
	tc.t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		tc.t.Fatal(err)
	}
	reply, perr, out := tc.c.Handle(tc.user(name), typ, raw)
	tc.record(out)
	if perr != nil {
		return nil, perr.Code
	}
	return reply, 0
}

// must runs a request that has to succeed.
func (tc *testCore) must(name, typ string, payload any) any {
	tc.t.Helper()
	reply, code := tc.do(name, typ, payload)
	if code != 0 {
		tc.t.Fatalf("%s %s(%v) = code %d; want success", name, typ, payload, code)
	}
	return reply
}

func (tc *testCore) tick(d time.Duration) {
	tc.clock.Advance(d)
	tc.record(tc.c.Tick())
}

func (tc *testCore) lose(name string) { tc.record(tc.c.Disconnect(tc.sess[name])) }

// took returns and clears the events a user received, as type names.
func (tc *testCore) took(name string) []Delivery {
	s := tc.sess[name]
	ev := tc.events[s]
	tc.events[s] = nil
	return ev
}

func types(ev []Delivery) []string {
	out := make([]string, len(ev))
	for i, d := range ev {
		out[i] = d.Type
	}
	return out
}

func (tc *testCore) clearAll() { tc.events = map[SessionID][]Delivery{} }

// host creates room "r-<name>" hosted by name.
func (tc *testCore) host(name string) string {
	tc.t.Helper()
	id := "r-" + name
	tc.must(name, protocol.ReqCreateLive, protocol.CreateLive{LiveID: id})
	return id
}

// connect has a invite b's room and b accept.
func (tc *testCore) connect(a, b string) {
	tc.t.Helper()
	reply := tc.must(a, protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"r-" + b}}).(protocol.RequestConnectionReply)
	if got := reply.Results["r-"+b]; got != protocol.ConnSuccess {
		tc.t.Fatalf("requestConnection %s -> %s = code %d; want 0", a, b, got)
	}
	tc.must(b, protocol.ReqAcceptConnection, protocol.LiveRef{LiveID: "r-" + a})
}

func ptr[T any](v T) *T { return &v }

func TestBadInput(t *testing.T) {
	tc := newTestCore(t)
	tc.host("h")
	for _, tt := range []struct {
		name    string
		user    string
		typ     string
		payload string
		code    int
	}{
		// An unknown request type is named as such.
		{"unknown type", "h", "explode", `{}`, 100902},
		// A payload that is not an object.
		{"array payload", "h", protocol.ReqHeartbeat, `[1]`, 100002},
		// A missing required field.
		{"joinLive without liveID", "a", protocol.ReqJoinLive, `{}`, 100002},
		// A field of the wrong JSON type.
		{"seatIndex as string", "h", protocol.ReqTakeSeat, `{"seatIndex":"3"}`, 100002},
		// A field over its size limit.
		{"liveID of 49 bytes", "a", protocol.ReqCreateLive, fmt.Sprintf(`{"liveID":%q}`, string(make49())), 100002},
		// A liveID with a space.
		{"liveID with space", "a", protocol.ReqCreateLive, `{"liveID":"a b"}`, 100002},
		// extensionInfo over 1024 bytes.
		{"long extensionInfo", "h", protocol.ReqRequestConnection, fmt.Sprintf(`{"liveIDs":["x"],"extensionInfo":%q}`, string(make([]byte, 1025))), 100002},
		// Duplicate targets.
		{"duplicate liveIDs", "h", protocol.ReqRequestConnection, `{"liveIDs":["x","x"]}`, 100002},
		// Too many targets at once.
		{"nine targets", "h", protocol.ReqRequestConnection, `{"liveIDs":["a","b","c","d","e","f","g","h","i"]}`, 100002},
		// Negative timeout.
		{"negative timeout", "h", protocol.ReqRequestConnection, `{"liveIDs":["x"],"timeout":-1}`, 100002},
		// Accepting a request that does not exist.
		{"accept nothing", "h", protocol.ReqAcceptConnection, `{"liveID":"r-zz"}`, 100400},
		// A non-host inviting.
		{"audience invites", "a", protocol.ReqRequestConnection, `{"liveIDs":["r-h"]}`, 100005},
		// Disconnecting while not connected.
		{"disconnect alone", "h", protocol.ReqDisconnect, `{}`, 100400},
		// A host leaving instead of ending.
		{"host leaveLive", "h", protocol.ReqLeaveLive, `{}`, 100006},
		// A room ID in use.
		{"duplicate room", "z", protocol.ReqCreateLive, `{"liveID":"r-h"}`, 100003},
		// A list count out of range.
		{"count 101", "a", protocol.ReqFetchLiveList, `{"count":101}`, 100002},
		// A forged cursor.
		{"bad cursor", "a", protocol.ReqFetchLiveList, `{"cursor":"nope"}`, 100002},
		// maxSeatCount over the server's maximum.
		{"17 seats", "y", protocol.ReqCreateLive, `{"liveID":"r-y","maxSeatCount":17}`, 100002},
	} {
		_, perr, out := tc.c.Handle(tc.user(tt.user), tt.typ, json.RawMessage(tt.payload))
		if perr == nil || perr.Code != tt.code {
			t.Errorf("%s: Handle(%s, %s) = %v; want code %d", tt.name, tt.typ, tt.payload, perr, tt.code)
		}
		if len(out) != 0 {
			t.Errorf("%s: a refused request produced events %v", tt.name, types(out))
		}
	}
	if len(tc.c.rooms) != 1 {
		t.Errorf("rooms after bad input = %d; want 1", len(tc.c.rooms))
	}
}

func make49() []byte {
	b := make([]byte, 49)
	for i := range b {
		b[i] = 'a'
	}
	return b
}

func TestGroupLimit(t *testing.T) {
	tc := newTestCore(t)
	hosts := []string{"h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"}
	for _, h := range hosts {
		tc.host(h)
	}
	for _, h := range hosts[1:9] {
		tc.connect("h0", h)
	}
	reply := tc.must("h3", protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"r-h9"}}).(protocol.RequestConnectionReply)
	if got := reply.Results["r-h9"]; got != protocol.ConnFull {
		t.Errorf("tenth room code = %d; want %d (full)", got, protocol.ConnFull)
	}
	if n := len(tc.c.rooms["r-h0"].group.rooms); n != 9 {
		t.Errorf("group size = %d; want 9", n)
	}
}

func TestPendingRequestsReserveGroupPlaces(t *testing.T) {
	tc := newTestCore(t)
	for i := 0; i < 10; i++ {
		tc.host(fmt.Sprint("h", i))
	}
	// h0 invites eight rooms at once and one more: 1 + 8 pending = 9 places, the ninth target is full.
	ids := []string{"r-h1", "r-h2", "r-h3", "r-h4", "r-h5", "r-h6", "r-h7", "r-h8"}
	reply := tc.must("h0", protocol.ReqRequestConnection, map[string]any{"liveIDs": ids}).(protocol.RequestConnectionReply)
	for _, id := range ids {
		if reply.Results[id] != protocol.ConnSuccess {
			t.Errorf("code for %s = %d; want 0", id, reply.Results[id])
		}
	}
	reply = tc.must("h0", protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"r-h9", "r-h1", "r-nope"}}).(protocol.RequestConnectionReply)
	want := map[string]int{"r-h9": protocol.ConnFull, "r-h1": protocol.ConnConnecting, "r-nope": protocol.ConnRoomNotExist}
	if !reflect.DeepEqual(reply.Results, want) {
		t.Errorf("results = %v; want %v", reply.Results, want)
	}
}

func TestRoomUserLimit(t *testing.T) {
	tc := newTestCore(t)
	tc.host("h")
	for i := 1; i < 50; i++ {
		tc.must(fmt.Sprint("a", i), protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-h"})
	}
	if _, code := tc.do("a50", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-h"}); code != 100008 {
		t.Errorf("51st user join = code %d; want 100008", code)
	}
	tc.must("a1", protocol.ReqLeaveLive, struct{}{})
	tc.must("a50", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-h"})
}

func TestInviteTimeout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout *int
		fireAt  time.Duration // 0: never
	}{
		// An omitted timeout uses the default of 30 s.
		{"default", nil, 30 * time.Second},
		// An explicit timeout.
		{"5s", ptr(5), 5 * time.Second},
		// Timeout 0 never fires.
		{"zero", ptr(0), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCore(t)
			tc.host("a")
			tc.host("b")
			tc.must("a", protocol.ReqRequestConnection, protocol.RequestConnection{LiveIDs: []string{"r-b"}, Timeout: tt.timeout})
			tc.clearAll()
			if tt.fireAt == 0 {
				tc.tick(24 * time.Hour)
				if ev := append(tc.took("a"), tc.took("b")...); len(ev) != 0 {
					t.Fatalf("timeout 0 produced %v", types(ev))
				}
				tc.must("b", protocol.ReqAcceptConnection, protocol.LiveRef{LiveID: "r-a"})
				return
			}
			tc.tick(tt.fireAt - time.Millisecond)
			if ev := append(tc.took("a"), tc.took("b")...); len(ev) != 0 {
				t.Fatalf("events before the deadline: %v", types(ev))
			}
			tc.tick(time.Millisecond)
			for _, who := range []string{"a", "b"} {
				ev := tc.took(who)
				if !reflect.DeepEqual(types(ev), []string{protocol.EvConnectionRequestTimeout}) {
					t.Fatalf("%s got %v; want one timeout", who, types(ev))
				}
				o := ev[0].Payload.(protocol.ConnectionRequestOutcome)
				if o.Inviter.LiveID != "r-a" || o.Invitee.LiveID != "r-b" {
					t.Errorf("%s timeout payload = %+v", who, o)
				}
			}
			if _, code := tc.do("b", protocol.ReqAcceptConnection, protocol.LiveRef{LiveID: "r-a"}); code != 100400 {
				t.Errorf("accept after timeout = %d; want 100400", code)
			}
			tc.tick(time.Hour)
			if ev := append(tc.took("a"), tc.took("b")...); len(ev) != 0 {
				t.Errorf("events after the request closed: %v", types(ev))
			}
		})
	}
}

func TestAnsweredRequestNeverTimesOut(t *testing.T) {
	for _, answer := range []string{protocol.ReqAcceptConnection, protocol.ReqRejectConnection} {
		tc := newTestCore(t)
		tc.host("a")
		tc.host("b")
		tc.must("a", protocol.ReqRequestConnection, protocol.RequestConnection{LiveIDs: []string{"r-b"}, Timeout: ptr(5)})
		tc.must("b", answer, protocol.LiveRef{LiveID: "r-a"})
		tc.clearAll()
		tc.tick(time.Minute)
		if ev := append(tc.took("a"), tc.took("b")...); len(ev) != 0 {
			t.Errorf("%s: events after answer: %v", answer, types(ev))
		}
	}
}

func TestGroupEventsReachHostsAndAudience(t *testing.T) {
	tc := newTestCore(t)
	tc.host("a")
	tc.host("b")
	tc.must("va", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-a"})
	tc.must("vb", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-b"})
	tc.clearAll()
	tc.connect("a", "b")
	wantA := []string{protocol.EvConnectionRequestAccept, protocol.EvConnectionUserListChanged, protocol.EvSeatListChanged}
	if got := types(tc.took("a")); !reflect.DeepEqual(got, wantA) {
		t.Errorf("inviter got %v; want %v", got, wantA)
	}
	if ev := tc.took("b"); len(ev) == 0 || ev[0].Type != protocol.EvConnectionRequestReceived {
		t.Fatalf("invitee got %v; want the request first", types(ev))
	} else {
		tc.events[tc.sess["b"]] = ev[1:]
	}
	for _, who := range []string{"b", "va", "vb"} {
		ev := tc.took(who)
		if got := types(ev); !reflect.DeepEqual(got, []string{protocol.EvConnectionUserListChanged, protocol.EvSeatListChanged}) {
			t.Fatalf("%s got %v", who, got)
		}
		ul := ev[0].Payload.(protocol.ConnectionUserListChanged)
		if len(ul.ConnectedList) != 2 || len(ul.JoinedList) != 2 || len(ul.LeavedList) != 0 {
			t.Errorf("%s user list = %+v; want 2 connected, 2 joined", who, ul)
		}
		seats := ev[1].Payload.(protocol.SeatListChanged).SeatList
		if len(seats) != 18 || seats[0].LiveID != "r-a" || seats[9].LiveID != "r-b" {
			t.Errorf("%s merged seats: %d seats, first %q, tenth %q", who, len(seats), seats[0].LiveID, seats[9].LiveID)
		}
	}
	// A late joiner gets the connected list and the merged seats in its reply (ROOM-005).
	reply := tc.must("late", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-b"}).(protocol.JoinLiveReply)
	if len(reply.ConnectedList) != 2 || len(reply.SeatList) != 18 {
		t.Errorf("late join: %d connected, %d seats; want 2, 18", len(reply.ConnectedList), len(reply.SeatList))
	}
}

func TestDisconnectAndDissolve(t *testing.T) {
	tc := newTestCore(t)
	for _, h := range []string{"a", "b", "c"} {
		tc.host(h)
	}
	tc.connect("a", "b")
	tc.connect("b", "c") // a connected host invites more rooms
	tc.clearAll()
	tc.must("c", protocol.ReqDisconnect, struct{}{})
	for who, n := range map[string]int{"a": 2, "b": 2, "c": 0} {
		ev := tc.took(who)
		ul := ev[0].Payload.(protocol.ConnectionUserListChanged)
		if len(ul.ConnectedList) != n || len(ul.LeavedList) != 1 || ul.LeavedList[0].LiveID != "r-c" {
			t.Errorf("%s: connected %d, leaved %+v; want %d connected, leaved r-c", who, len(ul.ConnectedList), ul.LeavedList, n)
		}
	}
	tc.must("a", protocol.ReqDisconnect, struct{}{})
	for _, who := range []string{"a", "b"} {
		ul := tc.took(who)[0].Payload.(protocol.ConnectionUserListChanged)
		if len(ul.ConnectedList) != 0 {
			t.Errorf("%s after dissolve: connected %d; want 0", who, len(ul.ConnectedList))
		}
	}
	if tc.c.rooms["r-b"].group != nil {
		t.Error("a group of one room survived")
	}
}

// A lost host connection gives every other user exactly what endLive gives (LIVE-021).
func TestHostLossEqualsEndLive(t *testing.T) {
	run := func(lose bool) map[string][]Delivery {
		tc := newTestCore(t)
		for _, h := range []string{"a", "b", "c", "d"} {
			tc.host(h)
		}
		tc.must("va", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-a"})
		tc.must("vb", protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-b"})
		tc.connect("a", "b")
		tc.connect("a", "c")
		tc.must("a", protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"r-d"}})
		tc.clearAll()
		if lose {
			tc.lose("a")
		} else {
			tc.must("a", protocol.ReqEndLive, struct{}{})
		}
		got := map[string][]Delivery{}
		for _, who := range []string{"b", "c", "d", "vb", "va"} {
			got[who] = tc.took(who)
		}
		return got
	}
	clean, lost := run(false), run(true)
	for who := range clean {
		if who == "va" {
			continue
		}
		if !reflect.DeepEqual(clean[who], lost[who]) {
			t.Errorf("%s: endLive gave %v, connection loss %v", who, types(clean[who]), types(lost[who]))
		}
	}
	if got := types(clean["d"]); !reflect.DeepEqual(got, []string{protocol.EvConnectionRequestCancelled}) {
		t.Errorf("pending target got %v; want a cancel", got)
	}
	for want, ev := range map[int][]Delivery{protocol.EndedByHost: clean["va"], protocol.EndedByServer: lost["va"]} {
		if len(ev) != 1 || ev[0].Payload.(protocol.LiveEnded).Reason != want {
			t.Errorf("audience got %v; want onLiveEnded reason %d", types(ev), want)
		}
	}
}

func TestRequestConflicts(t *testing.T) {
	tc := newTestCore(t)
	for _, h := range []string{"a", "b", "c", "d"} {
		tc.host(h)
	}
	tc.must("a", protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"r-b"}})
	// b has a pending request from a: another inviter gets code 3, and b cannot invite (100402).
	reply := tc.must("c", protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"r-b", "r-a"}}).(protocol.RequestConnectionReply)
	if reply.Results["r-b"] != protocol.ConnConnectingOtherRoom || reply.Results["r-a"] != protocol.ConnConnectingOtherRoom {
		t.Errorf("results = %v; want code 3 for both", reply.Results)
	}
	if _, code := tc.do("b", protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"r-d"}}); code != 100402 {
		t.Errorf("invited room requesting = %d; want 100402", code)
	}
	// Cancelling is all or nothing.
	if _, code := tc.do("a", protocol.ReqCancelConnectionRequest, map[string]any{"liveIDs": []string{"r-b", "r-d"}}); code != 100400 {
		t.Errorf("partial cancel = %d; want 100400", code)
	}
	tc.clearAll()
	tc.must("a", protocol.ReqCancelConnectionRequest, map[string]any{"liveIDs": []string{"r-b"}})
	if got := types(tc.took("b")); !reflect.DeepEqual(got, []string{protocol.EvConnectionRequestCancelled}) {
		t.Errorf("target got %v; want a cancel", got)
	}
	// A connected room cannot be invited by another group.
	tc.connect("a", "b")
	reply = tc.must("c", protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"r-b"}}).(protocol.RequestConnectionReply)
	if reply.Results["r-b"] != protocol.ConnConnectingOtherRoom {
		t.Errorf("inviting a connected room = %d; want 3", reply.Results["r-b"])
	}
	reply = tc.must("b", protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"r-a", "r-b"}}).(protocol.RequestConnectionReply)
	if reply.Results["r-a"] != protocol.ConnConnecting || reply.Results["r-b"] != protocol.ConnConnecting {
		t.Errorf("inviting own group = %v; want code 2", reply.Results)
	}
}

func TestSeats(t *testing.T) {
	tc := newTestCore(t)
	tc.host("h")
	for _, u := range []string{"u", "v"} {
		tc.must(u, protocol.ReqJoinLive, protocol.LiveRef{LiveID: "r-h"})
	}
	seatOf := func(u string) int { return tc.c.sessions[tc.sess[u]].seat }
	for _, tt := range []struct {
		name, user, typ string
		payload         any
		code            int
	}{
		// Seat 0 is the host's.
		{"occupied", "u", protocol.ReqTakeSeat, map[string]int{"seatIndex": 0}, 100201},
		{"out of range", "u", protocol.ReqTakeSeat, map[string]int{"seatIndex": 9}, 100200},
		{"take", "u", protocol.ReqTakeSeat, map[string]int{"seatIndex": 1}, 0},
		{"take twice", "u", protocol.ReqTakeSeat, map[string]int{"seatIndex": 2}, 100204},
		{"lock by audience", "u", protocol.ReqLockSeat, map[string]int{"seatIndex": 3}, 100006},
		{"lock", "h", protocol.ReqLockSeat, map[string]int{"seatIndex": 3}, 0},
		{"take locked", "v", protocol.ReqTakeSeat, map[string]int{"seatIndex": 3}, 100202},
		{"take free", "v", protocol.ReqTakeSeat, map[string]int{"seatIndex": 2}, 0},
		{"move abort", "h", protocol.ReqMoveUserToSeat, map[string]any{"userID": "u", "targetIndex": 2}, 100201},
		{"move swap", "h", protocol.ReqMoveUserToSeat, map[string]any{"userID": "u", "targetIndex": 2, "policy": 2}, 0},
		{"move to locked", "u", protocol.ReqMoveUserToSeat, map[string]any{"userID": "u", "targetIndex": 3}, 100202},
		{"move other by audience", "u", protocol.ReqMoveUserToSeat, map[string]any{"userID": "v", "targetIndex": 4}, 100006},
		{"unmute", "u", protocol.ReqUnmuteMicrophone, struct{}{}, 0},
		{"force replace", "h", protocol.ReqMoveUserToSeat, map[string]any{"userID": "v", "targetIndex": 2, "policy": 1}, 0},
		{"mute off seat", "u", protocol.ReqMuteMicrophone, struct{}{}, 100203},
		{"kick", "h", protocol.ReqKickUserOutOfSeat, map[string]string{"userID": "v"}, 0},
		{"kick unseated", "h", protocol.ReqKickUserOutOfSeat, map[string]string{"userID": "v"}, 100203},
		{"leave off seat", "v", protocol.ReqLeaveSeat, struct{}{}, 100203},
	} {
		if _, code := tc.do(tt.user, tt.typ, tt.payload); code != tt.code {
			t.Errorf("%s: %s %s(%v) = code %d; want %d", tt.name, tt.user, tt.typ, tt.payload, code, tt.code)
		}
	}
	if seatOf("u") != -1 || seatOf("v") != -1 || seatOf("h") != 0 {
		t.Errorf("seats: u %d, v %d, h %d; want -1, -1, 0", seatOf("u"), seatOf("v"), seatOf("h"))
	}
	// Locking a locked seat changes nothing and sends nothing (SEAT-003).
	tc.clearAll()
	tc.must("h", protocol.ReqLockSeat, map[string]int{"seatIndex": 3})
	if ev := tc.took("u"); len(ev) != 0 {
		t.Errorf("no-op lock sent %v", types(ev))
	}
}

// A room created without maxSeatCount gets min(9, limits.maxSeatCount) seats (ROOM table of
// SPEC §7), never more than the server's limit. Found by FuzzCore, whose limit is 3.
func TestDefaultSeatCountIsCappedByTheLimit(t *testing.T) {
	for _, tt := range []struct {
		limit, want int
	}{
		// The documented default of 16: rooms get 9 seats.
		{16, 9},
		// Exactly 9.
		{9, 9},
		// A server configured for 3 seats: 3, not 9.
		{3, 3},
	} {
		cfg := testConfig()
		cfg.MaxSeatCount = tt.limit
		c := New(cfg, &fakeClock{now: time.Unix(1_700_000_000, 0)})
		c.Connect(1, User{ID: "h"})
		reply, perr, _ := c.Handle(1, protocol.ReqCreateLive, json.RawMessage(`{"liveID":"r-h"}`))
		if perr != nil {
			t.Fatalf("limit %d: createLive = %v", tt.limit, perr)
		}
		if got := reply.(protocol.CreateLiveReply).LiveInfo.MaxSeatCount; got != tt.want {
			t.Errorf("limit %d: createLive without maxSeatCount made %d seats; want %d", tt.limit, got, tt.want)
		}
	}
}

func TestFetchLiveListPaging(t *testing.T) {
	tc := newTestCore(t)
	for i := 0; i < 7; i++ {
		tc.must(fmt.Sprint("h", i), protocol.ReqCreateLive, protocol.CreateLive{LiveID: fmt.Sprint("r", i), IsPublicVisible: ptr(i != 3)})
	}
	page := func(cursor string) protocol.FetchLiveListReply {
		return tc.must("x", protocol.ReqFetchLiveList, protocol.FetchLiveList{Cursor: cursor, Count: 2}).(protocol.FetchLiveListReply)
	}
	p1 := page("")
	// Rooms end and start between pages: nothing that existed throughout is skipped or repeated.
	tc.must("h1", protocol.ReqEndLive, struct{}{})
	tc.must("h2", protocol.ReqEndLive, struct{}{})
	tc.must("h9", protocol.ReqCreateLive, protocol.CreateLive{LiveID: "r9"})
	var ids []string
	for _, li := range p1.LiveInfoList {
		ids = append(ids, li.LiveID)
	}
	for cursor := p1.Cursor; cursor != ""; {
		p := page(cursor)
		for _, li := range p.LiveInfoList {
			ids = append(ids, li.LiveID)
		}
		cursor = p.Cursor
	}
	if want := []string{"r0", "r1", "r4", "r5", "r6", "r9"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("paged ids = %v; want %v", ids, want)
	}
}

// Opening and cancelling requests in a loop must not grow the core (a closed request's timer
// leaves the heap at once).
func TestCancelledTimersAreReleased(t *testing.T) {
	tc := newTestCore(t)
	tc.host("a")
	tc.host("b")
	tc.connect("a", "b")
	tc.host("c")
	for i := 0; i < 1000; i++ {
		tc.must("a", protocol.ReqRequestConnection, map[string]any{"liveIDs": []string{"r-c"}, "timeout": 3600})
		tc.must("a", protocol.ReqCancelConnectionRequest, protocol.LiveIDList{LiveIDs: []string{"r-c"}})
		id := tc.must("a", protocol.ReqRequestBattle, map[string]any{"userIDs": []string{"b"}, "config": map[string]any{"needResponse": true}, "timeout": 3600}).(protocol.RequestBattleReply).BattleInfo.BattleID
		tc.must("a", protocol.ReqCancelBattleRequest, protocol.CancelBattleRequest{BattleID: id, UserIDs: []string{"b"}})
		tc.tick(3 * time.Second) // stay under the battle rate limit
	}
	if n := tc.c.timers.Len(); n != 0 {
		t.Errorf("%d timers left after every request was cancelled; want 0", n)
	}
}

// Field names are case-sensitive: a key that differs only in case is an unknown field.
func TestFieldNamesAreCaseSensitive(t *testing.T) {
	tc := newTestCore(t)
	for _, tt := range []struct {
		name    string
		payload string
		code    int
	}{
		// LIVEID is not liveID: liveID is missing.
		{"upper-case key", `{"LIVEID":"r-x"}`, 100002},
		// The exact key wins; the folded one is ignored.
		{"both", `{"LiveId":"nope nope","liveID":"r-y"}`, 0},
	} {
		if _, code := tc.do("u-"+tt.name, protocol.ReqCreateLive, json.RawMessage(tt.payload)); code != tt.code {
			t.Errorf("%s: createLive(%s) = code %d; want %d", tt.name, tt.payload, code, tt.code)
		}
	}
	// Nested objects too: config.NEEDRESPONSE is not config.needResponse.
	tc.host("a")
	tc.host("b")
	tc.connect("a", "b")
	reply := tc.must("a", protocol.ReqRequestBattle, json.RawMessage(`{"userIDs":["b"],"config":{"NEEDRESPONSE":true,"duration":5}}`)).(protocol.RequestBattleReply)
	if reply.BattleInfo.Config.NeedResponse {
		t.Errorf("config.NEEDRESPONSE was read as needResponse")
	}
}
