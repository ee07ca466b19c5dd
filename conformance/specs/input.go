package specs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/conformance/results"
)

// sendRaw sends a raw text frame expecting a reply with id, and returns the reply.
func sendRaw(s *scene, c *client.Client, id, reqType, frame string) client.Frame {
	GinkgoHelper()
	// A reply follows at once, as an event does; twice the event timeout, so that a server
	// that answers under another id fails in seconds, not at the spec's end.
	ctx, cancel := context2(s, 2*target.EventTimeout)
	defer cancel()
	f, err := c.Send(ctx, id, reqType, []byte(frame))
	Expect(err).NotTo(HaveOccurred(), "frame %.80q", frame)
	return f
}

var _ = Describe("Bad input", Label("input"), func() {
	DescribeTable("[INPUT-001] a frame that is not a JSON request envelope gets 100901 and the connection stays open",
		func(ctx SpecContext, frame, id string) {
			s := newScene(ctx)
			c := s.user("a")
			f := sendRaw(s, c, id, "", frame)
			Expect(*f.Code).To(Equal(client.CodeMalformedFrame), "message: %s", *f.Message)
			Expect(*f.Message).NotTo(BeEmpty())
			Expect(c.Sync(s.ctx)).To(Succeed(), "the connection stays usable")
		},
		Entry("not JSON", `hello`, ""),
		Entry("truncated JSON", `{"type":"heartbeat","id":"x"`, ""),
		Entry("an empty frame", ``, ""),
		Entry("a JSON array", `[{"type":"heartbeat","id":"x"}]`, ""),
		Entry("a JSON string", `"heartbeat"`, ""),
		Entry("JSON null", `null`, ""),
		Entry("an object without type", `{"id":"x1","payload":{}}`, "x1"),
		Entry("a type that is not a string", `{"type":7,"id":"x2"}`, "x2"),
		Entry("an empty type", `{"type":"","id":"x3"}`, "x3"),
		Entry("deeply nested JSON", strings.Repeat("[", 5000)+strings.Repeat("]", 5000), ""),
	)

	DescribeTable("[INPUT-002] an unknown request type gets 100902 and the connection stays open",
		func(ctx SpecContext, typ string) {
			s := newScene(ctx)
			c := s.user("a")
			f := sendRaw(s, c, "u1", typ, fmt.Sprintf(`{"type":%q,"id":"u1","payload":{}}`, typ))
			Expect(*f.Code).To(Equal(client.CodeUnknownType))
			Expect(c.Sync(s.ctx)).To(Succeed())
		},
		Entry("a made-up type", "flyToTheMoon"),
		Entry("an event name", client.EvLiveEnded),
		Entry("the reply type", client.TypeReply),
		Entry("the welcome type", client.TypeWelcome),
		Entry("a known type in another case", "CREATELIVE"),
	)

	DescribeTable("[INPUT-003 TRANS-003] a bad id or field gets 100002 naming the field, the connection stays open and nothing changes",
		func(ctx SpecContext, frame func(s *scene) string, id, field string) {
			s := newScene(ctx)
			h := s.host("h")
			c := s.user("a")
			settle(s, h)
			f := sendRaw(s, c, id, "", frame(s))
			Expect(*f.Code).To(Equal(client.CodeInvalidParameter), "message: %s", *f.Message)
			Expect(*f.Message).To(MatchRegexp(`(^|[^A-Za-z])`+regexp.QuoteMeta(field)+`([^A-Za-z]|$)`), "the message names the field %q as a word", field)
			Expect(c.Sync(s.ctx)).To(Succeed())
			// Nothing changed: the caller is in no room and the host saw nothing.
			expectCode(c.LeaveLive(s.ctx), client.CodeNotLiveMember)
			none(s, h, client.EvSeatListChanged)
		},
		Entry("no id", func(s *scene) string { return `{"type":"heartbeat"}` }, "", "id"),
		Entry("an empty id", func(s *scene) string { return `{"type":"heartbeat","id":""}` }, "", "id"),
		Entry("an id of 65 bytes", func(s *scene) string { return `{"type":"heartbeat","id":"` + strings.Repeat("i", 65) + `"}` }, "", "id"),
		Entry("an id of 33 two-byte characters (66 bytes)", func(s *scene) string { return `{"type":"heartbeat","id":"` + strings.Repeat("é", 33) + `"}` }, "", "id"),
		Entry("an id that is not a string", func(s *scene) string { return `{"type":"heartbeat","id":12}` }, "", "id"),
		Entry("joinLive without liveID", func(s *scene) string { return `{"type":"joinLive","id":"f1","payload":{}}` }, "f1", "liveID"),
		Entry("joinLive with a numeric liveID", func(s *scene) string { return `{"type":"joinLive","id":"f2","payload":{"liveID":42}}` }, "f2", "liveID"),
		Entry("joinLive with a liveID of 10 KiB", func(s *scene) string {
			return `{"type":"joinLive","id":"f3","payload":{"liveID":"` + strings.Repeat("r", 10240) + `"}}`
		}, "f3", "liveID"),
		Entry("a payload that is not an object", func(s *scene) string { return `{"type":"joinLive","id":"f4","payload":5}` }, "f4", "payload"),
		Entry("takeSeat without seatIndex", func(s *scene) string { return `{"type":"takeSeat","id":"f5","payload":{}}` }, "f5", "seatIndex"),
		Entry("takeSeat with a string seatIndex", func(s *scene) string { return `{"type":"takeSeat","id":"f6","payload":{"seatIndex":"1"}}` }, "f6", "seatIndex"),
		Entry("takeSeat with a huge seatIndex", func(s *scene) string {
			return `{"type":"takeSeat","id":"f7","payload":{"seatIndex":1e40}}`
		}, "f7", "seatIndex"),
		Entry("fetchLiveList with count 101", func(s *scene) string { return `{"type":"fetchLiveList","id":"f8","payload":{"count":101}}` }, "f8", "count"),
		Entry("moveUserToSeat with policy 3", func(s *scene) string {
			return `{"type":"moveUserToSeat","id":"f9","payload":{"userID":"` + s.id("h") + `","targetIndex":1,"policy":3}}`
		}, "f9", "policy"),
		Entry("createLive with isPublicVisible as a string", func(s *scene) string {
			return `{"type":"createLive","id":"f10","payload":{"liveID":"` + s.room("a") + `","isPublicVisible":"yes"}}`
		}, "f10", "isPublicVisible"),
		Entry("[TRANS-012] joinLive with LIVEID: field names are case-sensitive, so liveID is missing", func(s *scene) string {
			return `{"type":"joinLive","id":"f11","payload":{"LIVEID":"` + s.room("h") + `"}}`
		}, "f11", "liveID"),
		Entry("[ROOM-002] createLive with a liveName of 34 three-byte characters (102 bytes)", func(s *scene) string {
			return `{"type":"createLive","id":"f12","payload":{"liveID":"` + s.room("a") + `","liveName":"` + strings.Repeat("名", 34) + `"}}`
		}, "f12", "liveName"),
		Entry("[ROOM-002] createLive with a space before the liveID", func(s *scene) string {
			return `{"type":"createLive","id":"f13","payload":{"liveID":" ` + s.room("a") + `"}}`
		}, "f13", "liveID"),
		Entry("[ROOM-002] createLive with a tab after the liveID", func(s *scene) string {
			return `{"type":"createLive","id":"f14","payload":{"liveID":"` + s.room("a") + `\t"}}`
		}, "f14", "liveID"),
		Entry("[ROOM-002] createLive with a negative seatTemplate", func(s *scene) string {
			return `{"type":"createLive","id":"f15","payload":{"liveID":"` + s.room("a") + `","seatTemplate":-1}}`
		}, "f15", "seatTemplate"),
		Entry("[ROOM-002] fetchLiveInfo with a liveID with a space", func(s *scene) string {
			return `{"type":"fetchLiveInfo","id":"f16","payload":{"liveID":"` + s.id("a b") + `"}}`
		}, "f16", "liveID"),
		Entry("[ROOM-002] fetchLiveInfo without liveID", func(s *scene) string { return `{"type":"fetchLiveInfo","id":"f17","payload":{}}` }, "f17", "liveID"),
		Entry("[ROOM-002] createLive with maxSeatCount 2.5", func(s *scene) string {
			return `{"type":"createLive","id":"f20","payload":{"liveID":"` + s.room("a") + `","maxSeatCount":2.5}}`
		}, "f20", "maxSeatCount"),
		Entry("heartbeat with a payload that is a number", func(s *scene) string { return `{"type":"heartbeat","id":"f18","payload":5}` }, "f18", "payload"),
		Entry("[INPUT-004] lockSeat without seatIndex, from a user in no room", func(s *scene) string { return `{"type":"lockSeat","id":"f19","payload":{}}` }, "f19", "seatIndex"),
	)

	/*
		Testname: integers-by-value
		Description: an integer is a number whose value is whole (§6), however it is
		written: createLive's maxSeatCount 4.0 and seatTemplate 3e9, lockSeat's seatIndex
		20E-1 and -0, fetchLiveList's count 1e0 are 4, 3000000000, 2, 0 and 1, as a viewer
		joining the room and the replies show. A fraction (2.5) and a value beyond
		±(2^53 − 1) are no integers: 100002 naming the field, even where a whole number out of
		the room's range would get SEAT-001's 100200.
	*/
	It("[INPUT-003 ROOM-002 SEAT-003 ROOM-008] an integer may be written with a zero fraction or an exponent (4.0, 3e9, 20E-1, -0, 1e0); 2.5 and 2^53 are refused with 100002", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.user("h")
		f := sendRaw(s, h, "i1", client.ReqCreateLive, `{"type":"createLive","id":"i1","payload":{"liveID":"`+s.room("h")+`","maxSeatCount":4.0,"seatTemplate":3e9}}`)
		Expect(*f.Code).To(Equal(0), "createLive with maxSeatCount 4.0 and seatTemplate 3e9: %s", *f.Message)
		var created client.CreateLiveReply
		Expect(json.Unmarshal(f.Payload, &created)).To(Succeed())
		Expect(created.LiveInfo.MaxSeatCount).To(Equal(4), "maxSeatCount 4.0 is 4")
		Expect(created.LiveInfo.SeatTemplate).To(Equal(3000000000), "seatTemplate 3e9 is 3000000000")
		for _, index := range []string{"20E-1", "-0"} {
			f = sendRaw(s, h, "i2", client.ReqLockSeat, `{"type":"lockSeat","id":"i2","payload":{"seatIndex":`+index+`}}`)
			Expect(*f.Code).To(Equal(0), "lockSeat with seatIndex %s: %s", index, *f.Message)
		}
		a := s.user("a")
		joined, err := a.JoinLive(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		var locked []int
		for _, seat := range joined.SeatList {
			if seat.IsLocked {
				locked = append(locked, seat.Index)
			}
		}
		Expect(locked).To(Equal([]int{0, 2}), "seatIndex -0 locked seat 0 and 20E-1 seat 2")
		f = sendRaw(s, a, "i3", client.ReqFetchLiveList, `{"type":"fetchLiveList","id":"i3","payload":{"count":1e0}}`)
		Expect(*f.Code).To(Equal(0), "fetchLiveList with count 1e0: %s", *f.Message)
		var list client.FetchLiveListReply
		Expect(json.Unmarshal(f.Payload, &list)).To(Succeed())
		Expect(list.LiveInfoList).To(HaveLen(1), "count 1e0 is 1")
		for _, index := range []string{"2.5", "1.0000001", "9007199254740992", "1e400"} {
			f = sendRaw(s, h, "i4", "", `{"type":"lockSeat","id":"i4","payload":{"seatIndex":`+index+`}}`)
			Expect(*f.Code).To(Equal(client.CodeInvalidParameter), "lockSeat with seatIndex %s: %s", index, *f.Message)
			Expect(*f.Message).To(ContainSubstring("seatIndex"))
		}
		settle(s, h, a)
	})

	It("[REST-005 REST-010 REST-030] a REST integer may be written with a zero fraction or an exponent (Duration 6.0e4, OpType 2.0, Score 5e0); a Score of 2.5 or 2^53 is refused with 100002", func(ctx SpecContext) {
		s := newScene(ctx)
		h, g := s.host("h"), s.host("g")
		battleWelcome(s)
		rest := s.rest()
		_, env, err := rest.Do(s.ctx, http.MethodPost, "create_battle", rest.Query(), []byte(`{"FromRoomId":"`+s.room("h")+`","ToRoomIdList":["`+s.room("g")+`"],"Duration":6.0e4}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(env.ErrorCode).To(Equal(0), "create_battle with Duration 6.0e4: %s", env.ErrorInfo)
		var created client.CreateBattleResponse
		Expect(json.Unmarshal(env.Response, &created)).To(Succeed())
		info, err := rest.GetBattleInfo(s.ctx, created.BattleID, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Duration).To(Equal(int64(60000)), "Duration 6.0e4 is 60000 ms")
		_, env, err = rest.Do(s.ctx, http.MethodPost, "set_battle_score", rest.Query(), []byte(`{"BattleId":"`+created.BattleID+`","OpType":2.0,"ScoreList":[{"RoomId":"`+s.room("h")+`","Score":5e0}]}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(env.ErrorCode).To(Equal(0), "set_battle_score with OpType 2.0 and Score 5e0: %s", env.ErrorInfo)
		info, err = rest.GetBattleInfo(s.ctx, created.BattleID, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.FromRoomInfo.Score).To(Equal(int64(5)), "OpType 2.0 sets, Score 5e0 is 5")
		for _, score := range []string{"2.5", "9007199254740992", "1e400"} {
			_, env, err = rest.Do(s.ctx, http.MethodPost, "set_battle_score", rest.Query(), []byte(`{"BattleId":"`+created.BattleID+`","OpType":1,"ScoreList":[{"RoomId":"`+s.room("h")+`","Score":`+score+`}]}`))
			Expect(err).NotTo(HaveOccurred())
			Expect(env.ErrorCode).To(Equal(client.CodeInvalidParameter), "a Score of %s: %s", score, env.ErrorInfo)
			Expect(env.ErrorInfo).To(ContainSubstring("Score"))
		}
		settle(s, h, g)
	})

	/*
		Testname: parameters-before-state
		Description: a request both malformed and not allowed gets 100002: parameters are
		checked before state (INPUT-004). createLive with a bad field from a host already in a
		room (not 100903) or naming a room that exists (not 100003); lockSeat and unlockSeat
		without seatIndex from a viewer (not 100006); leaveLive with a payload that is not an
		object (not carried out: the viewer stays).
	*/
	It("[INPUT-004 INPUT-003] a request both malformed and not allowed gets 100002 and changes nothing: parameters are checked before state", func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		a := s.audience("a", s.room("h"))
		u := s.user("u")
		settle(s, h, a)
		for i, tt := range []struct {
			c                   *client.Client
			typ, payload, field string
		}{
			{h, client.ReqCreateLive, `{"liveID":"` + s.room("new") + `","maxSeatCount":0}`, "maxSeatCount"},
			{u, client.ReqCreateLive, `{"liveID":"` + s.room("h") + `","seatTemplate":-1}`, "seatTemplate"},
			{a, client.ReqLockSeat, `{}`, "seatIndex"},
			{a, client.ReqUnlockSeat, `{}`, "seatIndex"},
			{a, client.ReqLeaveLive, `5`, "payload"},
		} {
			id := fmt.Sprint("p", i)
			frame := `{"type":"` + tt.typ + `","id":"` + id + `","payload":` + tt.payload + `}`
			f := sendRaw(s, tt.c, id, "", frame)
			Expect(*f.Code).To(Equal(client.CodeInvalidParameter), "%s: %s", frame, *f.Message)
			Expect(*f.Message).To(ContainSubstring(tt.field), frame)
		}
		info, err := u.FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.CurrentUserCount).To(Equal(2), "the viewer is still in the room")
		_, err = u.FetchLiveInfo(s.ctx, s.room("new"))
		expectCode(err, client.CodeLiveNotExist)
		none(s, h, client.EvSeatListChanged)
	})

	It("[INPUT-004] a valid request that is not allowed in the current state gets its documented code and changes nothing", func(ctx SpecContext) {
		s := newScene(ctx)
		h, g := s.host("h"), s.host("g")
		a := s.audience("a", s.room("h"))
		settle(s, h, g, a)
		expectCode(h.AcceptConnection(s.ctx, s.room("g")), client.CodeConnectionNotExist)
		expectCode(h.Disconnect(s.ctx), client.CodeConnectionNotExist)
		expectCode(a.LeaveSeat(s.ctx), client.CodeNotOnSeat)
		_, err := a.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("g")}})
		expectCode(err, client.CodePermissionDenied)
		expectCode(a.EndLive(s.ctx), client.CodePermissionDenied)
		for _, c := range []*client.Client{h, g, a} {
			none(s, c)
		}
	})

	It("[INPUT-005] a flood of bad input on one connection changes nothing for any other connection or room", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		aa := s.audience("aa", s.room("a"))
		connect(s, a, b)
		Expect(aa.TakeSeat(s.ctx, 1)).To(Succeed())
		settle(s, a, b, aa)
		m := s.host("m")
		bad := []string{
			`garbage`, `{}`, `[]`, `{"type":"x","id":"1"}`, `{"type":"heartbeat"}`,
			`{"type":"acceptConnection","id":"2","payload":{"liveID":"` + s.room("a") + `"}}`,
			`{"type":"kickUserOutOfSeat","id":"3","payload":{"userID":"` + aa.UserID() + `"}}`,
			`{"type":"cancelConnectionRequest","id":"4","payload":{"liveIDs":["` + s.room("b") + `"]}}`,
			`{"type":"joinLive","id":"5","payload":{"liveID":"` + s.room("a") + `"}}`,
			`{"type":"moveUserToSeat","id":"6","payload":{"userID":"` + aa.UserID() + `","targetIndex":2}}`,
			`{"type":"takeSeat","id":"7","payload":{"seatIndex":-5}}`,
			`{"type":"requestConnection","id":"8","payload":{"liveIDs":["` + s.room("a") + `","` + s.room("a") + `"]}}`,
		}
		for round := 0; round < 20; round++ {
			for i, frame := range bad {
				id := ""
				if j := strings.Index(frame, `"id":"`); j >= 0 {
					id = frame[j+6 : j+6+strings.Index(frame[j+6:], `"`)]
				}
				f := sendRaw(s, m, id, "", frame)
				Expect(*f.Code).NotTo(Equal(0), "bad frame %d was accepted: %s", i, frame)
			}
		}
		for _, c := range []*client.Client{a, b, aa} {
			none(s, c)
		}
		// Everyone still works: a seat change still reaches the whole group.
		Expect(aa.LeaveSeat(s.ctx)).To(Succeed())
		for _, c := range []*client.Client{a, b, aa} {
			next[client.SeatListChanged](s, c, client.EvSeatListChanged)
		}
		Expect(m.Sync(s.ctx)).To(Succeed(), "the offender's connection stays open too")
	})
})

var _ = Describe("Battles not supported", Label("battle"), func() {
	It("[BATTLE-000] a server advertising features.battle false answers the reserved battle requests with 100905 and sends no battle event", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		if s.welcome().Features.Battle {
			Skip(results.NotApplicable("the server advertises features.battle: true; BATTLE-000 applies only to servers without battles"))
		}
		connect(s, a, b)
		for _, typ := range []string{client.ReqRequestBattle, client.ReqCancelBattleRequest, client.ReqAcceptBattle, client.ReqRejectBattle, client.ReqExitBattle} {
			err := a.Call(s.ctx, typ, map[string]any{"battleID": "x", "userIDs": []string{b.UserID()}, "config": map[string]any{"duration": 30}}, nil)
			expectCode(err, client.CodeFeatureNotSupported)
		}
		for _, c := range []*client.Client{a, b} {
			none(s, c)
		}
	})
})
