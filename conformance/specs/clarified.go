package specs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// Specs of the requirements that pin what an implementer working from SPEC.md alone had to
// guess (issue 15): each was the reference server's behaviour before it was written down.

// stringTyped is a UserSig v2 document signed correctly, but with TLS.<field> as a JSON
// string instead of a number (AUTH-002).
func stringTyped(userID, field string) string {
	GinkgoHelper()
	return writtenAs(userID, field, func(n int64) string { return strconv.Quote(strconv.FormatInt(n, 10)) })
}

// writtenAs is a UserSig v2 document signed correctly, with TLS.<field> (sdkappid, time or
// expire; "" for none) written as write has it, given the field's value (AUTH-002).
func writtenAs(userID, field string, write func(int64) string) string {
	GinkgoHelper()
	now := time.Now().Unix()
	h := hmac.New(sha256.New, []byte(target.Secret))
	fmt.Fprintf(h, "TLS.identifier:%s\nTLS.sdkappid:%d\nTLS.time:%d\nTLS.expire:%d\n", userID, target.SDKAppID, now, 3600)
	numbers := map[string]int64{"sdkappid": int64(target.SDKAppID), "time": now, "expire": 3600}
	text := map[string]string{}
	for name, n := range numbers {
		text[name] = strconv.FormatInt(n, 10)
		if name == field {
			text[name] = write(n)
		}
	}
	ident, _ := json.Marshal(userID)
	raw := fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":%s,"TLS.sdkappid":%s,"TLS.time":%s,"TLS.expire":%s,"TLS.sig":"%s"}`,
		ident, text["sdkappid"], text["time"], text["expire"], base64.StdEncoding.EncodeToString(h.Sum(nil)))
	sig, err := client.PackUserSig([]byte(raw))
	Expect(err).NotTo(HaveOccurred())
	return sig
}

var _ = Describe("Clarifications of revision 4", func() {
	DescribeTable("[AUTH-008] a handshake with several faults is refused for the first in the documented order", Label("auth"),
		func(ctx SpecContext, mutate func(s *scene, h *handshake), status, code int) {
			s := newScene(ctx)
			h := goodHandshake(s, "u")
			mutate(s, &h)
			expectRefused(s, h, status, code)
		},
		Entry("a malformed userid and no token: 400 and 100002, not 401", func(_ *scene, h *handshake) {
			h.userID, h.sig = "a b", ""
		}, http.StatusBadRequest, client.CodeInvalidParameter),
		Entry("a username of 65 bytes and a token for another user: 400", func(s *scene, h *handshake) {
			h.extra = "&username=" + strings.Repeat("n", 65)
			h.sig, _ = target.Sign(s.id("other"))
		}, http.StatusBadRequest, client.CodeInvalidParameter),
		Entry("an sdkappid not served and a token that is not base64: 70014 before 70003", func(_ *scene, h *handshake) {
			h.appID = strconv.FormatUint(target.SDKAppID+1, 10)
			h.sig = "%%not-a-token%%"
		}, http.StatusUnauthorized, client.CodeUserSigAppIDMismatch),
		Entry("a token for another user signed with another secret: 70003 before 70013", func(s *scene, h *handshake) {
			h.sig, _ = client.SignUserSig(target.Secret+"-wrong", target.SDKAppID, s.id("other"), time.Hour, time.Now())
		}, http.StatusUnauthorized, client.CodeUserSigInvalid),
		Entry("an expired token signed with another secret: 70003 before 70001", func(s *scene, h *handshake) {
			h.sig, _ = client.SignUserSig(target.Secret+"-wrong", target.SDKAppID, s.id("u"), time.Minute, time.Now().Add(-time.Hour))
		}, http.StatusUnauthorized, client.CodeUserSigInvalid),
		Entry("an expired token for another user: 70013 before 70001", func(s *scene, h *handshake) {
			h.sig, _ = client.SignUserSig(target.Secret, target.SDKAppID, s.id("other"), time.Minute, time.Now().Add(-time.Hour))
		}, http.StatusUnauthorized, client.CodeUserSigUserIDMismatch),
		Entry("a token for another user and another sdkappid: 70013 before 70014", func(s *scene, h *handshake) {
			h.sig, _ = client.SignUserSig(target.Secret, target.SDKAppID+1, s.id("other"), time.Hour, time.Now())
		}, http.StatusUnauthorized, client.CodeUserSigUserIDMismatch),
		Entry("an expired token for another sdkappid: 70014 before 70001", func(s *scene, h *handshake) {
			h.sig, _ = client.SignUserSig(target.Secret, target.SDKAppID+1, s.id("u"), time.Minute, time.Now().Add(-time.Hour))
		}, http.StatusUnauthorized, client.CodeUserSigAppIDMismatch),
	)

	DescribeTable("[AUTH-002 AUTH-003] a correctly signed token whose numbers are JSON strings does not follow the format: 401 and 70003", Label("auth"),
		func(ctx SpecContext, field string) {
			s := newScene(ctx)
			h := goodHandshake(s, "u")
			h.sig = stringTyped(h.userID, field)
			expectRefused(s, h, http.StatusUnauthorized, client.CodeUserSigInvalid)
		},
		Entry("TLS.sdkappid as a string", "sdkappid"),
		Entry("TLS.time as a string", "time"),
		Entry("TLS.expire as a string", "expire"),
	)

	DescribeTable("[AUTH-002 AUTH-003] a correctly signed token writing a number otherwise than in plain digits does not follow the format: 401 and 70003", Label("auth"),
		func(ctx SpecContext, field string, write func(int64) string) {
			s := newScene(ctx)
			h := goodHandshake(s, "u")
			h.sig = writtenAs(h.userID, "", nil)
			expectAccepted(s, h) // the same document, its numbers in plain digits
			h.sig = writtenAs(h.userID, field, write)
			expectRefused(s, h, http.StatusUnauthorized, client.CodeUserSigInvalid)
		},
		Entry("TLS.expire as 3600.0", "expire", func(n int64) string { return strconv.FormatInt(n, 10) + ".0" }),
		Entry("TLS.expire as 3.6e3", "expire", func(int64) string { return "3.6e3" }),
		Entry("TLS.time with a fraction of zero", "time", func(n int64) string { return strconv.FormatInt(n, 10) + ".000" }),
		Entry("TLS.sdkappid with an exponent", "sdkappid", func(n int64) string { return strconv.FormatInt(n, 10) + "e0" }),
	)

	It("[AUTH-002 AUTH-004] a token issued an hour ahead of the server's clock is accepted: only its expiry limits it", Label("auth"), func(ctx SpecContext) {
		s := newScene(ctx)
		u := s.id("ahead")
		sig, err := client.SignUserSig(target.Secret, target.SDKAppID, u, 2*time.Hour, time.Now().Add(time.Hour))
		Expect(err).NotTo(HaveOccurred())
		dialWelcomed(s, u, sig).Close()
	})

	It("[TRANS-014] a request whose id repeats that of one not yet answered is executed and answered like any other", Label("transport"), func(ctx SpecContext) {
		s := newScene(ctx)
		u := s.id("dup")
		sig, err := target.Sign(u)
		Expect(err).NotTo(HaveOccurred())
		ws := dialWelcomed(s, u, sig)
		defer ws.Close()
		// Both frames go out before any reply can have come back.
		Expect(ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"createLive","id":"same","payload":{"liveID":"`+s.room("dup")+`"}}`))).To(Succeed())
		Expect(ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"fetchLiveInfo","id":"same","payload":{"liveID":"`+s.room("dup")+`"}}`))).To(Succeed())
		var replies []map[string]json.RawMessage
		for len(replies) < 2 {
			var f map[string]json.RawMessage
			Expect(ws.ReadJSON(&f)).To(Succeed(), "waiting for two replies")
			if string(f["type"]) == `"reply"` {
				replies = append(replies, f)
			}
		}
		for i, f := range replies {
			Expect(string(f["id"])).To(Equal(`"same"`), "reply %d", i+1)
			Expect(string(f["code"])).To(Equal("0"), "reply %d: %s", i+1, f["message"])
			Expect(string(f["payload"])).To(ContainSubstring(s.room("dup")), "reply %d carries the room", i+1)
		}
	})

	It("[COHOST-023 COHOST-020 SEAT-010] when a group forms, the inviter's room comes first in connectedList, joinedList and the merged seats, though it was created second", Label("cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		b := s.host("b") // created first: creation order is b, a
		a := s.host("a")
		ab := s.audience("ab", s.room("b"))
		settle(s, a, b, ab)
		codes := request(s, a, s.room("b"))
		Expect(codes).To(HaveKeyWithValue(s.room("b"), client.ConnSuccess))
		inv := next[client.ConnectionRequestReceived](s, b, client.EvConnectionRequestReceived)
		Expect(inv.Inviter.LiveID).To(Equal(s.room("a")))
		Expect(inv.Inviter.JoinConnectionTime).To(BeZero(), "the inviter is in no group yet")
		Expect(b.AcceptConnection(s.ctx, s.room("a"))).To(Succeed())
		want := []string{s.room("a"), s.room("b")}
		for _, m := range []*client.Client{a, b, ab} {
			ev := next[client.ConnectionUserListChanged](s, m, client.EvConnectionUserListChanged)
			Expect(client.LiveIDs(ev.ConnectedList)).To(Equal(want), "%s: connectedList", m.UserID())
			Expect(client.LiveIDs(ev.JoinedList)).To(Equal(want), "%s: joinedList", m.UserID())
			Expect(ev.ConnectedList[0].JoinConnectionTime).To(Equal(ev.ConnectedList[1].JoinConnectionTime), "both joined with the group")
			seats := next[client.SeatListChanged](s, m, client.EvSeatListChanged)
			expectMerged(seats.SeatList, want...)
		}
		late, err := s.user("late").JoinLive(s.ctx, s.room("b"))
		Expect(err).NotTo(HaveOccurred())
		Expect(client.LiveIDs(late.ConnectedList)).To(Equal(want))
		expectMerged(late.SeatList, want...)
	})

	It("[SEAT-011 SEAT-008] onSeatListChanged names the recipient's own room, whichever room's seat changed", Label("seat", "cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		a, b := hs[0], hs[1]
		aa, ba := s.audience("aa", s.room("a")), s.audience("ba", s.room("b"))
		settle(s, a, b, aa, ba)
		Expect(a.LockSeat(s.ctx, 3)).To(Succeed())
		for _, m := range []struct {
			c    *client.Client
			room string
		}{{a, s.room("a")}, {aa, s.room("a")}, {b, s.room("b")}, {ba, s.room("b")}} {
			ev := next[client.SeatListChanged](s, m.c, client.EvSeatListChanged)
			Expect(ev.LiveID).To(Equal(m.room), "%s is in %s", m.c.UserID(), m.room)
			Expect(seatsOfRoom(ev.SeatList, s.room("a"))[3].IsLocked).To(BeTrue(), "the merged list shows a's locked seat")
		}
	})

	It("[BATTLE-027 BATTLE-022 BATTLE-030] a room that exited gets nothing more of the battle: not the end its exit causes, nor later exits, scores or the end", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		aa, ba, ca := s.audience("aa", s.room("a")), s.audience("ba", s.room("b")), s.audience("ca", s.room("c"))
		id := startBattle(s, 300, a, []*client.Client{b, c}, aa, ba, ca).BattleInfo.BattleID

		Expect(c.ExitBattle(s.ctx, id)).To(Succeed())
		for _, m := range []*client.Client{a, b, c, aa, ba, ca} {
			Expect(next[client.UserExitBattle](s, m, client.EvUserExitBattle).BattleUser.LiveID).To(Equal(s.room("c")), m.UserID())
		}
		_, err := s.rest().SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 5}}})
		Expect(err).NotTo(HaveOccurred())
		for _, m := range []*client.Client{a, b, aa, ba} {
			next[client.BattleScoreChanged](s, m, client.EvBattleScoreChanged)
		}

		Expect(b.ExitBattle(s.ctx, id)).To(Succeed()) // leaves a alone: the battle ends with reason 1
		for _, m := range []*client.Client{a, b, aa, ba} {
			Expect(next[client.UserExitBattle](s, m, client.EvUserExitBattle).BattleUser.LiveID).To(Equal(s.room("b")), m.UserID())
		}
		for _, m := range []*client.Client{a, aa} {
			Expect(next[client.BattleEnded](s, m, client.EvBattleEnded).Reason).To(Equal(1), m.UserID())
		}
		for _, m := range []*client.Client{b, ba} {
			none(s, m, client.EvBattleEnded)
		}
		for _, m := range []*client.Client{c, ca} {
			none(s, m, client.EvUserExitBattle, client.EvBattleScoreChanged, client.EvBattleEnded)
		}
	})

	It("[BATTLE-008 TRANS-007] without needResponse the inviter gets the reply before onBattleStarted, and the invitee onBattleRequestReceived before it", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		f, err := a.Send(s.ctx, "rb", client.ReqRequestBattle, []byte(`{"type":"requestBattle","id":"rb","payload":{"config":{"duration":60,"needResponse":false},"userIDs":["`+b.UserID()+`"]}}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(*f.Code).To(Equal(0), *f.Message)
		var reply client.RequestBattleReply
		Expect(json.Unmarshal(f.Payload, &reply)).To(Succeed())
		Expect(reply.BattleInfo.StartTime).NotTo(BeZero(), "the reply's battleInfo is the started one (BATTLE-006)")
		started, e := nextWithin[client.BattleStarted](s, a, client.EvBattleStarted, target.EventTimeout)
		Expect(e.Seq).To(BeNumerically(">", f.Seq), "onBattleStarted (seq %d) came before the reply (seq %d)", e.Seq, f.Seq)
		Expect(started.BattleInfo).To(Equal(reply.BattleInfo))
		_, received := nextWithin[client.BattleRequestEvent](s, b, client.EvBattleRequestReceived, target.EventTimeout)
		_, bStarted := nextWithin[client.BattleStarted](s, b, client.EvBattleStarted, target.EventTimeout)
		Expect(bStarted.Seq).To(BeNumerically(">", received.Seq), "the invitee's onBattleStarted came before its onBattleRequestReceived")
	})

	It("[BATTLE-014 BATTLE-004] over the battle limit, a room in a battle still gets 100415 and a request naming no valid host 100412; REST battles are not limited", Label("battle", "limits"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		w := battleWelcome(s)
		a, b := hs[0], hs[1]
		limit := battleRateLimit(w)
		for i := 0; i < limit; i++ {
			r, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
			Expect(err).NotTo(HaveOccurred(), "battle %d of %d", i+1, limit)
			if i%2 == 0 {
				Expect(a.CancelBattleRequest(s.ctx, r.BattleInfo.BattleID, b.UserID())).To(Succeed())
			} else {
				Expect(b.RejectBattle(s.ctx, r.BattleInfo.BattleID)).To(Succeed())
			}
		}
		_, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: []string{s.id("nobody")}})
		expectCode(err, client.CodeNoValidBattleLive)
		_, err = a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b)})
		expectCode(err, client.CodeBattleTooFrequent)

		created, err := s.rest().CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("a"), ToRoomIDList: []string{s.room("b")}, Duration: 60000})
		Expect(err).NotTo(HaveOccurred(), "create_battle over REST is not limited by BATTLE-004")
		Expect(created.Result).To(ConsistOf(client.RoomResult{RoomID: s.room("b"), ResultCode: 0, ResultMessage: created.Result[0].ResultMessage}))
		next[client.BattleStarted](s, a, client.EvBattleStarted)
		_, err = a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b)})
		expectCode(err, client.CodeLiveInOtherBattle)
	})

	It("[REST-006 REST-001 REST-002] a repeated random, 0 and 4294967295 are answered like any other, each with a RequestId of its own, and every answer is application/json", Label("rest"), func(ctx SpecContext) {
		s := newScene(ctx)
		r := s.rest()
		q := r.Query()
		q.Set("random", "42")
		ids := map[string]bool{}
		for i, body := range []string{`{"BattleId":"` + s.id("none") + `"}`, `{"BattleId":"` + s.id("none") + `"}`, `not json`} {
			status, env, err := r.Do(s.ctx, http.MethodPost, client.APIGetBattleInfo, q, []byte(body))
			Expect(err).NotTo(HaveOccurred())
			Expect(status).To(Equal(http.StatusOK))
			want := client.CodeBattleNotExist
			if i == 2 {
				want = client.CodeJSONParse
			}
			Expect(env.ErrorCode).To(Equal(want), "request %d with random=42: %s", i+1, env.ErrorInfo)
			Expect(ids).NotTo(HaveKey(env.RequestID), "REST-002: RequestId is unique per request, whatever its random")
			ids[env.RequestID] = true
		}
		for _, random := range []string{"0", "4294967295"} {
			q.Set("random", random)
			_, env, err := r.Do(s.ctx, http.MethodPost, client.APIGetBattleInfo, q, []byte(`{"BattleId":"`+s.id("none")+`"}`))
			Expect(err).NotTo(HaveOccurred())
			Expect(env.ErrorCode).To(Equal(client.CodeBattleNotExist), "REST-001: random=%s is in range: %s", random, env.ErrorInfo)
		}
		q.Set("random", "42")
		req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, strings.TrimSuffix(target.RESTURL, "/")+client.RESTPrefix+client.APIGetBattleInfo+"?"+q.Encode(), strings.NewReader(`{"BattleId":"`+s.id("none")+`"}`))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		media, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		Expect(err).NotTo(HaveOccurred(), "Content-Type %q", resp.Header.Get("Content-Type"))
		Expect(media).To(Equal("application/json"))
	})

	It("[REST-035 REST-036 REST-034] a score request naming no participant succeeds with the version unchanged; a key reused with another body gets the first response and applies nothing", Label("rest", "score"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, id, r := restBattle(s)
		first, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, IdempotencyKey: s.id("k"), ScoreList: []client.ScoreItem{{RoomID: s.room("b"), Score: 7}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(first.ScoreVersion).To(Equal(uint64(1)))
		settle(s, a, b)

		nobody, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("elsewhere"), Score: 9}}})
		Expect(err).NotTo(HaveOccurred(), "a request naming no participant room still succeeds")
		Expect(nobody.Result).To(Equal([]client.ScoreResult{{RoomID: s.room("elsewhere"), ResultCode: 1}}))
		Expect(nobody.ScoreVersion).To(Equal(uint64(1)), "the current version, unchanged")

		again, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, IdempotencyKey: s.id("k"), ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 1000}, {RoomID: s.room("b"), Score: 1}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(Equal(first), "the first response, whatever the retry's body")
		none(s, a, client.EvBattleScoreChanged)
		info, err := r.GetBattleInfo(s.ctx, id, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.FromRoomInfo.Score).To(BeZero())
		Expect(info.ToRoomList[0].Score).To(Equal(int64(7)))
		Expect(info.ScoreVersion).To(Equal(uint64(1)))
	})
})

// dialWelcomed connects user u with the token sig on a bare gorilla/websocket connection,
// below the suite's client, and reads its welcome; the read deadline stays set, EventTimeout
// and 5 s from then. The caller closes the connection.
func dialWelcomed(s *scene, u, sig string) *websocket.Conn {
	GinkgoHelper()
	ws, resp, err := websocket.DefaultDialer.DialContext(s.ctx, target.HandshakeURL(strconv.FormatUint(target.SDKAppID, 10), u, sig), nil)
	if resp != nil && err != nil {
		Fail(fmt.Sprintf("refused with HTTP %d: %v", resp.StatusCode, err))
	}
	Expect(err).NotTo(HaveOccurred())
	Expect(ws.SetReadDeadline(time.Now().Add(target.EventTimeout + 5*time.Second))).To(Succeed())
	var welcome struct{ Type string }
	if err := ws.ReadJSON(&welcome); err != nil || welcome.Type != "welcome" {
		ws.Close()
		Fail(fmt.Sprintf("the first frame: %q, %v; want a welcome", welcome.Type, err))
	}
	return ws
}
