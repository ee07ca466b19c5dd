package specs

import (
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/pkarena/pkarena/conformance/client"
)

// Specs written after a hunt for what the suite let pass (2026-12-07): bugs planted by hand in
// the reference server's core, of kinds a vendor's server could have, each of which passed the
// whole suite. Each spec below catches one; reference/mutant keeps the bug as a mutant, so
// make mutants proves the spec still does.

// listedRooms pages through fetchLiveList as viewer and returns the IDs of this scene's
// rooms, in the order listed.
func listedRooms(s *scene, viewer *client.Client) []string {
	GinkgoHelper()
	var ids []string
	for _, li := range listedInfos(s, viewer) {
		ids = append(ids, li.LiveID)
	}
	return ids
}

// listedInfos pages through fetchLiveList as viewer and returns this scene's rooms as listed,
// in order.
func listedInfos(s *scene, viewer *client.Client) []client.LiveInfo {
	GinkgoHelper()
	return listedBy(s, viewer, maxListCount)
}

// listedBy is listedInfos with pages of count rooms.
func listedBy(s *scene, viewer *client.Client, count int) []client.LiveInfo {
	GinkgoHelper()
	var seen []client.LiveInfo
	cursor := ""
	for pages := 0; ; pages++ {
		Expect(pages).To(BeNumerically("<", 10000), "the cursor never reaches the end")
		page, err := viewer.FetchLiveList(s.ctx, cursor, count)
		Expect(err).NotTo(HaveOccurred())
		for _, li := range page.LiveInfoList {
			if strings.HasPrefix(li.LiveID, s.prefix+"-") {
				seen = append(seen, li)
			}
		}
		if page.Cursor == "" {
			return seen
		}
		cursor = page.Cursor
	}
}

// requestPending has inviter request a battle that needs answers of invitees (a 30 s
// timeout), waits until each invitee has received it, and returns its ID.
func requestPending(s *scene, inviter *client.Client, invitees ...*client.Client) string {
	GinkgoHelper()
	reply, err := inviter.RequestBattle(s.ctx, client.RequestBattleRequest{
		UserIDs: userIDs(invitees...), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(30),
	})
	Expect(err).NotTo(HaveOccurred())
	for _, c := range invitees {
		Expect(next[client.BattleRequestEvent](s, c, client.EvBattleRequestReceived).BattleInfo.BattleID).To(Equal(reply.BattleInfo.BattleID))
	}
	return reply.BattleInfo.BattleID
}

// acceptedByOne has host a of a group of three request a battle of b and c that needs
// answers, and b accept it (a has seen the accept); c has not answered.
func acceptedByOne(s *scene) (a, b, c *client.Client, id string) {
	GinkgoHelper()
	hs := s.hosts("a", "b", "c")
	battleWelcome(s)
	a, b, c = hs[0], hs[1], hs[2]
	id = requestPending(s, a, b, c)
	Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
	Expect(next[client.BattleRequestEvent](s, a, client.EvBattleRequestAccept).Invitee.UserID).To(Equal(b.UserID()))
	return a, b, c, id
}

// around matches a time in the unit whose values at the two bounds are lo and hi.
func around(lo, hi int64) types.GomegaMatcher {
	return And(BeNumerically(">=", lo), BeNumerically("<=", hi))
}

var _ = Describe("Unseen mutants", func() {
	/*
		Testname: seat-gone-with-ended-room
		Description: an audience member of a room that ends is no longer in a room (ROOM-007),
		so it is on no seat either: seated in the ended room, it joins another room and takeSeat
		MUST place it (SEAT-001), not refuse it with 100204. Kills seat-kept-after-room-end.
	*/
	It("[ROOM-007 SEAT-001] an audience member seated in a room that ends is on no seat: in its next room it takes a seat", Label("room", "seat"), func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		a := s.audience("a", s.room("h"))
		Expect(a.TakeSeat(s.ctx, 1)).To(Succeed())
		settle(s, h, a)
		Expect(h.EndLive(s.ctx)).To(Succeed())
		Expect(next[client.LiveEnded](s, a, client.EvLiveEnded).LiveID).To(Equal(s.room("h")))

		h2 := s.host("h2")
		_, err := a.JoinLive(s.ctx, s.room("h2"))
		Expect(err).NotTo(HaveOccurred())
		settle(s, h2, a)
		Expect(a.TakeSeat(s.ctx, 1)).To(Succeed(), "the seat of the ended room went with it")
		Expect(next[client.SeatListChanged](s, h2, client.EvSeatListChanged).SeatList[1].UserInfo.UserID).To(Equal(a.UserID()))
	})

	/*
		Testname: force-replaced-is-seatless
		Description: moveUserToSeat with policy 1 frees the target's occupant (SEAT-005): that
		member is on no seat, so its leaveSeat MUST get 100203 (SEAT-002) and its takeSeat MUST
		place it (SEAT-001). Kills force-replace-keeps-seat, where the displaced member's
		leaveSeat emptied the seat of the member that replaced it.
	*/
	It("[SEAT-005 SEAT-001 SEAT-002] the member a forceReplace displaced is on no seat: leaveSeat gets 100203 and takeSeat places it", Label("seat"), func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		r.seatBoth()
		Expect(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 2, client.MoveForceReplace)).To(Succeed())
		list := r.changed()
		Expect(list[2].UserInfo.UserID).To(Equal(r.a.UserID()))
		Expect(seatOf(list, r.b.UserID())).To(BeNil(), "b was displaced")

		expectCode(r.b.LeaveSeat(r.s.ctx), client.CodeNotOnSeat)
		r.unchanged()
		Expect(r.b.TakeSeat(r.s.ctx, 3)).To(Succeed(), "the displaced member takes a seat again")
		list = r.changed()
		Expect(list[3].UserInfo.UserID).To(Equal(r.b.UserID()))
		Expect(list[2].UserInfo.UserID).To(Equal(r.a.UserID()), "a keeps the seat it took")
	})

	/*
		Testname: lock-outlives-occupant
		Description: lockSeat marks a seat locked and its occupant stays (SEAT-003); only
		unlockSeat clears the lock. When the occupant leaves the room, the seat is freed
		(SEAT-009) and MUST stay locked: the event shows it locked and takeSeat gets 100202.
		Kills seat-lock-lost-on-leave.
	*/
	It("[SEAT-003 SEAT-009] a locked seat stays locked when its occupant leaves the room", Label("seat"), func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		Expect(r.h.LockSeat(r.s.ctx, 1)).To(Succeed())
		Expect(r.changed()[1].IsLocked).To(BeTrue())

		Expect(r.a.LeaveLive(r.s.ctx)).To(Succeed())
		for _, c := range []*client.Client{r.h, r.b} {
			seat := next[client.SeatListChanged](r.s, c, client.EvSeatListChanged).SeatList[1]
			Expect(seat.UserInfo.UserID).To(BeEmpty(), "%s: the seat is free", c.UserID())
			Expect(seat.IsLocked).To(BeTrue(), "%s: the lock outlives its occupant", c.UserID())
		}
		expectCode(r.b.TakeSeat(r.s.ctx, 1), client.CodeSeatLocked)
	})

	/*
		Testname: ended-room-unlisted
		Description: a room exists until endLive (§7), and fetchLiveList lists rooms (ROOM-008):
		once its host ends it, a room MUST no longer be listed. Kills ended-room-still-listed.
	*/
	It("[ROOM-008 ROOM-007] a room its host ended is no longer listed by fetchLiveList", Label("room"), func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("gone")
		s.host("stays")
		viewer := s.user("viewer")
		Expect(listedRooms(s, viewer)).To(Equal([]string{s.room("gone"), s.room("stays")}))
		Expect(h.EndLive(s.ctx)).To(Succeed())
		Expect(listedRooms(s, viewer)).To(Equal([]string{s.room("stays")}), "the ended room")
	})

	/*
		Testname: refused-score-applies-nothing
		Description: a set_battle_score whose sum goes beyond 2^53-1 is refused with 100002 for
		the whole request (REST-030), which is applied at once or not at all (REST-033): an
		item before the one that overflowed MUST NOT be applied either, the version MUST stay,
		and the next accepted change MUST start from the scores before the refusal. Kills
		refused-score-partly-applied.
	*/
	It("[REST-033 REST-030] a set_battle_score refused for a sum beyond 2^53-1 changes no score, not even the items before the one that overflowed", Label("battle", "score", "rest"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, id, r := restBattle(s)
		const maxScore = int64(1)<<53 - 1
		_, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, ScoreList: []client.ScoreItem{{RoomID: s.room("b"), Score: maxScore}}})
		Expect(err).NotTo(HaveOccurred())
		settle(s, a, b)

		_, err = r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{
			{RoomID: s.room("a"), Score: 5}, {RoomID: s.room("b"), Score: 1},
		}})
		expectCode(err, client.CodeInvalidParameter)
		none(s, a, client.EvBattleScoreChanged)
		info, err := r.GetBattleInfo(s.ctx, id, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.FromRoomInfo.Score).To(BeZero(), "the first item of the refused request")
		Expect(info.ToRoomList).To(HaveLen(1))
		Expect(info.ToRoomList[0].Score).To(Equal(maxScore))
		Expect(info.ScoreVersion).To(Equal(uint64(1)))

		resp, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 1}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.ScoreVersion).To(Equal(uint64(2)))
		Expect(next[client.BattleScoreChanged](s, a, client.EvBattleScoreChanged).BattleUserList[0].Score).To(Equal(int64(1)), "0 + 1: the refused 5 was never applied")
	})

	/*
		Testname: pending-battle-inviter-leaves
		Description: an inviter room that ends while its battle is pending cancels it
		(BATTLE-023): every invitee host that has not rejected, timed out or been cancelled,
		the ones that accepted included, MUST get onBattleRequestCancelled, and the battle never
		starts. Kills accepted-invitee-not-cancelled.
	*/
	It("[BATTLE-023] an inviter whose room ends while its battle is pending cancels it for the invitees that accepted as for those yet to answer", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c, id := acceptedByOne(s)
		settle(s, a, b, c)

		Expect(a.EndLive(s.ctx)).To(Succeed())
		for _, x := range []*client.Client{b, c} {
			ev := next[client.BattleRequestEvent](s, x, client.EvBattleRequestCancelled)
			Expect(ev.BattleInfo.BattleID).To(Equal(id), x.UserID())
			none(s, x, client.EvBattleStarted)
		}
	})

	/*
		Testname: pending-battle-invitee-leaves
		Description: an invitee room that leaves its group while the battle is pending counts as
		having rejected (BATTLE-023): the inviter host MUST get onBattleRequestReject for it,
		before the others answer. Kills invitee-leave-not-rejected.
	*/
	It("[BATTLE-023] an invitee room that leaves its group while the battle is pending is reported to the inviter as a rejection", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		id := requestPending(s, a, b, c)
		settle(s, a)

		Expect(b.Disconnect(s.ctx)).To(Succeed())
		ev := next[client.BattleRequestEvent](s, a, client.EvBattleRequestReject)
		Expect(ev.BattleInfo.BattleID).To(Equal(id))
		Expect(ev.Invitee.UserID).To(Equal(b.UserID()))
		none(s, a, client.EvBattleStarted, client.EvBattleEnded)
		none(s, c, client.EvBattleRequestCancelled)
	})

	/*
		Testname: exited-room-in-battle-info
		Description: get_battle_info's ToRoomList is the scoreboard's rooms after the
		inviter's (REST-020), and the scoreboard keeps the rooms that exited, their scores
		frozen (BATTLE-041): a room that exited a running battle MUST still be listed, in its
		place, with its score. Kills battle-info-drops-exited-rooms.
	*/
	It("[REST-020 BATTLE-041] get_battle_info still lists a room that exited a running battle, in its place and with its score", Label("battle", "rest"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		id := startBattle(s, 300, a, []*client.Client{b, c}).BattleInfo.BattleID
		r := s.rest()
		_, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, ScoreList: []client.ScoreItem{{RoomID: s.room("b"), Score: 7}}})
		Expect(err).NotTo(HaveOccurred())
		settle(s, a, b, c)
		Expect(b.ExitBattle(s.ctx, id)).To(Succeed())
		settle(s, a, b, c)

		info, err := r.GetBattleInfo(s.ctx, id, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Status).To(Equal(client.BattleStatusRunning), "a and c still battle")
		Expect(info.ToRoomList).To(Equal([]client.RoomScore{
			{RoomID: s.room("b"), Score: 7, OwnerAccount: b.UserID()},
			{RoomID: s.room("c"), Score: 0, OwnerAccount: c.UserID()},
		}))
	})

	/*
		Testname: exited-room-in-end-webhook
		Description: the end webhook's ToRoomList is the scoreboard's rooms other than the
		inviter's (HOOK-002), exited ones included (BATTLE-041). Three rooms, so that a list
		without the exited room is not empty: the invitee c exits, then the inviter, which
		leaves one participant and ends the battle (OpType 1); ToRoomList MUST be b and c.
		Kills end-webhook-drops-exited-rooms.
	*/
	It("[HOOK-002 BATTLE-041] the end webhook's ToRoomList holds every scoreboard room after the inviter's, the ones that exited included", Label("webhook", "battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		r := receiver()
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		id := startBattle(s, 300, a, []*client.Client{b, c}).BattleInfo.BattleID
		Expect(c.ExitBattle(s.ctx, id)).To(Succeed())
		Expect(a.ExitBattle(s.ctx, id)).To(Succeed())

		end := hooksOf(s, r, id, target.EventTimeout, client.HookCreateBattle, client.HookStartBattle, client.HookEndBattle)[2]
		Expect(*end.OpType).To(Equal(1), "one participant left")
		Expect(end.FromRoomInfo.RoomID).To(Equal(s.room("a")))
		Expect(end.Rooms()[1:]).To(Equal([]string{s.room("b"), s.room("c")}), "b stayed, c exited")
	})

	/*
		Testname: create-webhook-extension-info
		Description: the create webhook MUST carry the battle's ExtensionInfo (HOOK-002), as the
		inviter gave it in requestBattle's config. Kills create-webhook-without-extension-info.
	*/
	It("[HOOK-002] the create webhook carries the extensionInfo the inviter gave the battle", Label("webhook", "battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		r := receiver()
		hs := s.hosts("a", "b")
		battleWelcome(s)
		const ext = `{"theme":"rocket","round":2}`
		reply, err := hs[0].RequestBattle(s.ctx, client.RequestBattleRequest{
			UserIDs: userIDs(hs[1]), Config: client.BattleConfigRequest{Duration: ptr(300), NeedResponse: ptr(false), ExtensionInfo: ext},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(reply.BattleInfo.Config.ExtensionInfo).To(Equal(ext))
		create := hooksOf(s, r, reply.BattleInfo.BattleID, target.EventTimeout, client.HookCreateBattle, client.HookStartBattle)[0]
		Expect(create.ExtensionInfo).To(Equal(ext))
	})

	/*
		Testname: webhook-time-units
		Description: the webhooks' times are in §15's units (HOOK-002): CreateTime, StartTime and
		EndTime in Unix seconds, EventTime in milliseconds. Each is checked against the suite's
		own clock, five minutes either side, so a value in the other unit (a thousand times
		larger or smaller) fails whatever the skew between the two clocks. Kills
		end-webhook-end-time-in-ms.
	*/
	It("[HOOK-002] the webhooks' CreateTime, StartTime and EndTime are Unix seconds and EventTime Unix milliseconds", Label("webhook", "battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		r := receiver()
		hs := s.hosts("a", "b")
		battleWelcome(s)
		lo := time.Now().Add(-5 * time.Minute)
		id := startBattle(s, 300, hs[0], []*client.Client{hs[1]}).BattleInfo.BattleID
		Expect(hs[1].ExitBattle(s.ctx, id)).To(Succeed())
		hooks := hooksOf(s, r, id, target.EventTimeout, client.HookCreateBattle, client.HookStartBattle, client.HookEndBattle)
		hi := time.Now().Add(5 * time.Minute)
		seconds, millis := around(lo.Unix(), hi.Unix()), around(lo.UnixMilli(), hi.UnixMilli())

		for _, h := range hooks {
			Expect(h.EventTime).To(millis, "%s EventTime", h.CallbackCommand)
		}
		start, end := hooks[1], hooks[2]
		for what, v := range map[string]int64{
			"start CreateTime": start.CreateTime, "start StartTime": start.StartTime,
			"end CreateTime": end.CreateTime, "end StartTime": end.StartTime, "end EndTime": end.EndTime,
		} {
			Expect(v).To(seconds, what)
		}
		Expect(end.EndTime).To(BeNumerically("<", end.StartTime+300), "ended by the exit, long before its 300 s")
	})

	/*
		Testname: create-time-in-ms
		Description: a room's createTime is Unix milliseconds (LiveInfo, §6): in createLive's
		reply (ROOM-001) and fetchLiveInfo's (ROOM-009) it MUST lie within five minutes of the
		suite's clock in milliseconds. Kills create-time-in-seconds.
	*/
	It("[ROOM-001 ROOM-009] a room's createTime is the Unix time of its creation in milliseconds", Label("room"), func(ctx SpecContext) {
		s := newScene(ctx)
		lo := time.Now().Add(-5 * time.Minute)
		h := s.user("h")
		created, err := h.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("h")})
		Expect(err).NotTo(HaveOccurred())
		hi := time.Now().Add(5 * time.Minute)
		Expect(created.LiveInfo.CreateTime).To(around(lo.UnixMilli(), hi.UnixMilli()))
		info, err := s.user("v").FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.CreateTime).To(Equal(created.LiveInfo.CreateTime))
	})

	/*
		Testname: early-end-time
		Description: a battle's endTime is startTime + duration while it runs and the time it
		actually ended once it has ended (BattleInfo, §12): a 300 s battle that ends at once
		because its other room exited MUST report, in onBattleEnded (BATTLE-030) and
		get_battle_info (REST-020), an endTime no later than the seconds the spec has run
		since its start. Kills end-time-as-scheduled.
	*/
	It("[BATTLE-030 REST-020] a battle that ends early reports the time it ended as endTime, not startTime + duration", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		began := time.Now()
		started := startBattle(s, 300, a, []*client.Client{b}).BattleInfo
		Expect(started.EndTime).To(Equal(started.StartTime+300), "while it runs")
		Expect(b.ExitBattle(s.ctx, started.BattleID)).To(Succeed())
		ended := next[client.BattleEnded](s, a, client.EvBattleEnded).BattleInfo
		ran := int64(time.Since(began).Seconds()) + 1
		Expect(ended.StartTime).To(Equal(started.StartTime))
		Expect(ended.EndTime).To(around(ended.StartTime, ended.StartTime+ran), "it ran under %d s", ran)

		info, err := s.rest().GetBattleInfo(s.ctx, started.BattleID, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.EndTime).To(Equal(ended.EndTime))
	})

	/*
		Testname: join-time-kept
		Description: joinConnectionTime is the Unix ms at which a room joined its current group
		(§6): both founding rooms have the same one (COHOST-023), and neither changes when the
		group admits another room later, whose own is later (COHOST-020's connectedList). The
		third room is admitted 50 ms after the group formed, more than a coarse clock's tick.
		Kills group-join-time-restamped.
	*/
	It("[COHOST-020 COHOST-023] a room's joinConnectionTime stays as it was when its group admits another room later", Label("cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		connect(s, a, b)
		formed, err := s.user("v1").JoinLive(s.ctx, s.room("a"))
		Expect(err).NotTo(HaveOccurred())
		Expect(client.LiveIDs(formed.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b")}))
		t := formed.ConnectedList[0].JoinConnectionTime
		Expect(formed.ConnectedList[1].JoinConnectionTime).To(Equal(t), "the founding rooms join together")

		time.Sleep(50 * time.Millisecond)
		connect(s, a, c)
		grown, err := s.user("v2").JoinLive(s.ctx, s.room("b"))
		Expect(err).NotTo(HaveOccurred())
		Expect(client.LiveIDs(grown.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b"), s.room("c")}))
		Expect(grown.ConnectedList[0].JoinConnectionTime).To(Equal(t), "the inviter's time")
		Expect(grown.ConnectedList[1].JoinConnectionTime).To(Equal(t), "b's time")
		Expect(grown.ConnectedList[2].JoinConnectionTime).To(BeNumerically(">", t), "c joined later")
	})

	// A second round of the hunt (2026-12-07, 16:00): bugs of the core's other paths.

	/*
		Testname: accepted-invitee-leaves
		Description: an invitee room that leaves its group before the battle starts counts as
		having rejected (BATTLE-023), whether it had answered or not: one that accepted and then
		leaves MUST be reported to the inviter host with onBattleRequestReject.
	*/
	It("[BATTLE-023] an invitee that accepted and then leaves its group before the start is reported to the inviter as a rejection", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c, id := acceptedByOne(s)
		settle(s, a)

		Expect(b.Disconnect(s.ctx)).To(Succeed())
		ev := next[client.BattleRequestEvent](s, a, client.EvBattleRequestReject)
		Expect(ev.BattleInfo.BattleID).To(Equal(id))
		Expect(ev.Invitee.UserID).To(Equal(b.UserID()), "the accepted invitee that left")
		none(s, a, client.EvBattleStarted)
		none(s, c, client.EvBattleRequestCancelled)
	})

	/*
		Testname: seat-mic-off-for-next
		Description: takeSeat places the caller with its microphone off (SEAT-001), whatever
		the seat's last occupant left it at: a member that opened its microphone on a seat and
		left it does not pass its open microphone on.
	*/
	It("[SEAT-001 SEAT-006] takeSeat places the caller with its microphone off, even on a seat whose last occupant left it on", Label("seat"), func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		Expect(r.a.UnmuteMicrophone(r.s.ctx)).To(Succeed())
		Expect(r.changed()[1].UserInfo.MicrophoneStatus).To(Equal(1))
		Expect(r.a.LeaveSeat(r.s.ctx)).To(Succeed())
		Expect(r.changed()[1].UserInfo.MicrophoneStatus).To(Equal(0), "an empty seat")
		Expect(r.b.TakeSeat(r.s.ctx, 1)).To(Succeed())
		seat := r.changed()[1]
		Expect(seat.UserInfo.UserID).To(Equal(r.b.UserID()))
		Expect(seat.UserInfo.MicrophoneStatus).To(Equal(0), "the new occupant's microphone")
	})

	/*
		Testname: lock-outlives-leave-and-kick
		Description: only unlockSeat clears a lock (SEAT-003): a locked seat whose occupant
		leaves it (leaveSeat) or is kicked off it (kickUserOutOfSeat) MUST stay locked.
	*/
	It("[SEAT-003 SEAT-002 SEAT-004] a locked seat stays locked when its occupant leaves it or is kicked off it", Label("seat"), func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		r.seatBoth()
		for _, i := range []int{1, 2} {
			Expect(r.h.LockSeat(r.s.ctx, i)).To(Succeed())
			Expect(r.changed()[i].IsLocked).To(BeTrue())
		}
		Expect(r.a.LeaveSeat(r.s.ctx)).To(Succeed())
		Expect(r.changed()[1]).To(And(HaveField("IsLocked", true), HaveField("UserInfo.UserID", "")), "seat 1 after leaveSeat")
		Expect(r.h.KickUserOutOfSeat(r.s.ctx, r.b.UserID())).To(Succeed())
		Expect(r.changed()[2]).To(And(HaveField("IsLocked", true), HaveField("UserInfo.UserID", "")), "seat 2 after the kick")
		expectCode(r.a.TakeSeat(r.s.ctx, 1), client.CodeSeatLocked)
		expectCode(r.b.TakeSeat(r.s.ctx, 2), client.CodeSeatLocked)
	})

	/*
		Testname: move-to-own-seat
		Description: an operation that changes nothing sends no event (SEAT-008): moving a
		user to the seat it is on succeeds (SEAT-005) and no member gets onSeatListChanged.
	*/
	It("[SEAT-005 SEAT-008] moving a user to the seat it is on succeeds and sends no event", Label("seat"), func(ctx SpecContext) {
		r := newSeatRoom(newScene(ctx))
		Expect(r.a.TakeSeat(r.s.ctx, 1)).To(Succeed())
		r.changed()
		Expect(r.h.MoveUserToSeat(r.s.ctx, r.a.UserID(), 1, client.MoveAbortWhenOccupied)).To(Succeed())
		r.unchanged()
	})

	/*
		Testname: list-count-now
		Description: fetchLiveList's rooms are LiveInfos (ROOM-008), whose currentUserCount
		counts the owner and the audience (§6) as they are when the list is fetched, not when
		the room was created.
	*/
	It("[ROOM-008 ROOM-005] fetchLiveList gives each room's currentUserCount as it is now", Label("room"), func(ctx SpecContext) {
		s := newScene(ctx)
		s.host("h")
		s.audience("a", s.room("h"))
		s.audience("b", s.room("h"))
		listed := listedInfos(s, s.user("v"))
		Expect(listed).To(HaveLen(1))
		Expect(listed[0].CurrentUserCount).To(Equal(3), "the host and two viewers")
	})

	// The same hunt's survivors, left open at first and given specs an hour later (17:15).

	/*
		Testname: connected-inviter-join-time
		Description: the events of a connection request describe each room as it was before
		the change they report (§9): a connected inviter with the joinConnectionTime at which it
		joined its group, an unconnected invitee with 0, in onConnectionRequestReceived
		(COHOST-002) and in onConnectionRequestAccept (COHOST-011).
	*/
	It("[COHOST-002 COHOST-011] a connected inviter's invitation carries the inviter's joinConnectionTime, the unconnected invitee's 0", Label("cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c")
		connect(s, a, b)
		formed, err := s.user("v").JoinLive(s.ctx, s.room("a"))
		Expect(err).NotTo(HaveOccurred())
		Expect(client.LiveIDs(formed.ConnectedList)).To(Equal([]string{s.room("a"), s.room("b")}))
		t := formed.ConnectedList[0].JoinConnectionTime
		Expect(t).To(BeNumerically(">", 0), "a is connected")

		request(s, a, s.room("c"))
		inv := next[client.ConnectionRequestReceived](s, c, client.EvConnectionRequestReceived)
		Expect(inv.Inviter.LiveID).To(Equal(s.room("a")))
		Expect(inv.Inviter.JoinConnectionTime).To(Equal(t), "the time a joined its group")
		Expect(inv.InviteeList).To(HaveLen(1))
		Expect(inv.InviteeList[0].JoinConnectionTime).To(BeZero(), "c is in no group")
		Expect(c.AcceptConnection(s.ctx, s.room("a"))).To(Succeed())
		acc := next[client.ConnectionRequestOutcome](s, a, client.EvConnectionRequestAccept)
		Expect(acc.Inviter.JoinConnectionTime).To(Equal(t))
		Expect(acc.Invitee.JoinConnectionTime).To(BeZero(), "c as it was before the accept")
	})

	/*
		Testname: connection-request-events-to-hosts
		Description: a connection request's events are for the hosts (COHOST-002, COHOST-010,
		COHOST-011, COHOST-012, COHOST-014 each name the host that gets one): a received,
		cancelled, rejected, timed-out and accepted request MUST reach no audience member of
		either room.
	*/
	It("[COHOST-002 COHOST-010 COHOST-011 COHOST-012 COHOST-014] a connection request's events reach the two hosts alone, never an audience member", Label("cohost", "timeout"), func(ctx SpecContext) {
		s := newScene(ctx, time.Second)
		a, c := s.host("a"), s.host("c")
		viewers := []*client.Client{s.audience("va", s.room("a")), s.audience("vc", s.room("c"))}
		received := func() {
			GinkgoHelper()
			Expect(next[client.ConnectionRequestReceived](s, c, client.EvConnectionRequestReceived).Inviter.LiveID).To(Equal(s.room("a")))
		}

		request(s, a, s.room("c"))
		received()
		Expect(a.CancelConnectionRequest(s.ctx, s.room("c"))).To(Succeed())
		next[client.ConnectionRequestOutcome](s, c, client.EvConnectionRequestCancelled)

		request(s, a, s.room("c"))
		received()
		Expect(c.RejectConnection(s.ctx, s.room("a"))).To(Succeed())
		next[client.ConnectionRequestOutcome](s, a, client.EvConnectionRequestReject)

		_, err := a.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("c")}, Timeout: ptr(1)})
		Expect(err).NotTo(HaveOccurred())
		received()
		for _, h := range []*client.Client{a, c} {
			nextWithin[client.ConnectionRequestOutcome](s, h, client.EvConnectionRequestTimeout, time.Second+target.EventTimeout)
		}

		request(s, a, s.room("c"))
		received()
		Expect(c.AcceptConnection(s.ctx, s.room("a"))).To(Succeed())
		next[client.ConnectionRequestOutcome](s, a, client.EvConnectionRequestAccept)
		for _, v := range viewers {
			none(s, v, client.EvConnectionRequestReceived, client.EvConnectionRequestCancelled, client.EvConnectionRequestReject,
				client.EvConnectionRequestTimeout, client.EvConnectionRequestAccept)
		}
	})

	/*
		Testname: battle-request-events-to-hosts
		Description: a battle request's events are for the hosts (BATTLE-007, BATTLE-009,
		BATTLE-010): onBattleRequestReceived and -Cancelled to the invitee host,
		onBattleRequestAccept and -Reject to the inviter host, onBattleRequestTimeout to both.
		Four invitees answer each way (accept, reject, cancelled by the inviter, time out after
		3 s: time enough for the others to answer on a busy machine); no audience member of any
		of the five rooms MUST get any of these events.
	*/
	It("[BATTLE-009 BATTLE-007 BATTLE-010] a battle request's events reach the hosts alone: no audience member gets a received, accept, reject, timeout or cancel", Label("battle", "timeout"), func(ctx SpecContext) {
		s := newScene(ctx, 3*time.Second)
		hs := s.hosts("a", "b", "c", "d", "e")
		battleWelcome(s)
		a, b, c, d, e := hs[0], hs[1], hs[2], hs[3], hs[4]
		var viewers []*client.Client
		for i, h := range hs {
			viewers = append(viewers, s.audience("v"+string(rune('a'+i)), s.roomOf(h)))
		}
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{
			UserIDs: userIDs(b, c, d, e), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(3),
		})
		Expect(err).NotTo(HaveOccurred())
		id := reply.BattleInfo.BattleID
		for _, h := range []*client.Client{b, c, d, e} {
			Expect(next[client.BattleRequestEvent](s, h, client.EvBattleRequestReceived).BattleInfo.BattleID).To(Equal(id))
		}
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		Expect(next[client.BattleRequestEvent](s, a, client.EvBattleRequestAccept).Invitee.UserID).To(Equal(b.UserID()))
		Expect(c.RejectBattle(s.ctx, id)).To(Succeed())
		Expect(next[client.BattleRequestEvent](s, a, client.EvBattleRequestReject).Invitee.UserID).To(Equal(c.UserID()))
		Expect(a.CancelBattleRequest(s.ctx, id, e.UserID())).To(Succeed())
		next[client.BattleRequestEvent](s, e, client.EvBattleRequestCancelled)
		for _, h := range []*client.Client{a, d} {
			ev, _ := nextWithin[client.BattleRequestEvent](s, h, client.EvBattleRequestTimeout, 3*time.Second+target.EventTimeout)
			Expect(ev.Invitee.UserID).To(Equal(d.UserID()))
		}
		next[client.BattleStarted](s, a, client.EvBattleStarted)
		for _, v := range viewers {
			none(s, v, client.EvBattleRequestReceived, client.EvBattleRequestAccept, client.EvBattleRequestReject,
				client.EvBattleRequestTimeout, client.EvBattleRequestCancelled)
		}
	})

	/*
		Testname: rejecter-free-while-battle-runs
		Description: a room is in a battle while it is its inviter, a pending or accepted
		invitee, or a participant (BATTLE-021); one that rejected is in none. While the battle
		it rejected runs among the others, another host of the group that invites it MUST get
		code 0 for it (BATTLE-005), and the code 3 for a participant, and it is invited.
	*/
	It("[BATTLE-005 BATTLE-021] a room that rejected a battle is free while that battle runs among the others: another host invites it with code 0", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b", "c", "d")
		battleWelcome(s)
		a, b, c, d := hs[0], hs[1], hs[2], hs[3]
		id := requestPending(s, a, b, c)
		Expect(b.RejectBattle(s.ctx, id)).To(Succeed())
		Expect(c.AcceptBattle(s.ctx, id)).To(Succeed())
		Expect(next[client.BattleStarted](s, a, client.EvBattleStarted).BattleInfo.BattleID).To(Equal(id))

		reply, err := d.RequestBattle(s.ctx, client.RequestBattleRequest{
			UserIDs: userIDs(a, b), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0),
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(reply.Results).To(Equal(map[string]int{a.UserID(): client.BattleBattlingOtherRoom, b.UserID(): client.BattleSuccess}))
		Expect(next[client.BattleRequestEvent](s, b, client.EvBattleRequestReceived).BattleInfo.BattleID).To(Equal(reply.BattleInfo.BattleID))
	})

	/*
		Testname: battle-limit-counts-only-created
		Description: BATTLE-004's limit counts the battles a room's host created with
		requestBattle and nothing else (BATTLE-014): after a request refused with 100412 and a
		battle created over REST from the same room, maxBattleRequestsPerMinute requests MUST
		still create battles; the next one gets 100413.
	*/
	It("[BATTLE-014 BATTLE-004] neither a request refused with 100412 nor a battle created over REST counts: the limit's requests still succeed after them", Label("battle", "limits", "rest"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		w := battleWelcome(s)
		a, b := hs[0], hs[1]
		limit := battleRateLimit(w)
		_, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: []string{s.id("nobody")}})
		expectCode(err, client.CodeNoValidBattleLive)
		created, err := s.rest().CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("a"), ToRoomIDList: []string{s.room("b")}, Duration: 60000})
		Expect(err).NotTo(HaveOccurred())
		next[client.BattleStarted](s, a, client.EvBattleStarted)
		Expect(b.ExitBattle(s.ctx, created.BattleID)).To(Succeed())
		next[client.BattleEnded](s, a, client.EvBattleEnded)

		for i := 0; i < limit; i++ {
			r, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
			Expect(err).NotTo(HaveOccurred(), "battle %d of %d, after a refusal and a REST battle", i+1, limit)
			Expect(a.CancelBattleRequest(s.ctx, r.BattleInfo.BattleID, b.UserID())).To(Succeed())
		}
		_, err = a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b)})
		expectCode(err, client.CodeBattleTooFrequent)
	})

	/*
		Testname: mic-change-reaches-group
		Description: a microphone change is a change of a room's seats (SEAT-006), so it MUST
		reach every member of every room of the connection group (SEAT-008), not the
		speaker's own room alone: unmuting and muting each reach both hosts and both
		audiences.
	*/
	It("[SEAT-008 SEAT-006] a microphone change in one room of a group reaches every member of every room of the group", Label("seat", "cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		aa, ba := s.audience("aa", s.room("a")), s.audience("ba", s.room("b"))
		connect(s, a, b)
		settle(s, aa, ba)
		all := []*client.Client{a, b, aa, ba}
		Expect(aa.TakeSeat(s.ctx, 1)).To(Succeed())
		for _, m := range all {
			next[client.SeatListChanged](s, m, client.EvSeatListChanged)
		}
		for _, mic := range []int{1, 0} {
			if mic == 1 {
				Expect(aa.UnmuteMicrophone(s.ctx)).To(Succeed())
			} else {
				Expect(aa.MuteMicrophone(s.ctx)).To(Succeed())
			}
			for _, m := range all {
				si := seatOf(next[client.SeatListChanged](s, m, client.EvSeatListChanged).SeatList, aa.UserID())
				Expect(si).NotTo(BeNil(), m.UserID())
				Expect(si.UserInfo.MicrophoneStatus).To(Equal(mic), "%s sees aa's microphone", m.UserID())
			}
		}
	})

	/*
		Testname: start-webhook-participants
		Description: the start webhook's ToRoomList is the scoreboard's rooms other than the
		inviter's (HOOK-002): the invitees that accepted. Of three invitees one accepts, one
		rejects and one times out (3 s): ToRoomList MUST hold the one that accepted alone,
		while the create webhook's ToRoomIdList still lists all three.
	*/
	It("[HOOK-002 BATTLE-012] the start webhook's ToRoomList holds the invitees that accepted, not those that rejected or timed out", Label("webhook", "battle", "timeout"), func(ctx SpecContext) {
		s := newScene(ctx, 3*time.Second)
		r := receiver()
		hs := s.hosts("a", "b", "c", "d")
		battleWelcome(s)
		a, b, c, d := hs[0], hs[1], hs[2], hs[3]
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{
			UserIDs: userIDs(b, c, d), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(3),
		})
		Expect(err).NotTo(HaveOccurred())
		id := reply.BattleInfo.BattleID
		for _, h := range []*client.Client{b, c, d} {
			next[client.BattleRequestEvent](s, h, client.EvBattleRequestReceived)
		}
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		Expect(c.RejectBattle(s.ctx, id)).To(Succeed())
		nextWithin[client.BattleStarted](s, a, client.EvBattleStarted, 3*time.Second+target.EventTimeout)

		hooks := hooksOf(s, r, id, target.EventTimeout, client.HookCreateBattle, client.HookStartBattle)
		Expect(hooks[0].ToRoomIDList).To(ConsistOf(s.room("b"), s.room("c"), s.room("d")), "create: every invited room")
		Expect(hooks[1].Rooms()).To(Equal([]string{s.room("a"), s.room("b")}), "start: the inviter, then the invitee that accepted")
	})

	/*
		Testname: pending-battle-not-joined
		Description: joinLive's battle is the room's running battle and null otherwise
		(BATTLE-025): a user joining the inviter's or an invitee's room while the battle is
		pending MUST find null; one joining after it started finds it.
	*/
	It("[BATTLE-025] a user joining a room whose battle is still pending finds battle null; after the start it finds the battle", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a, b := hs[0], hs[1]
		id := requestPending(s, a, b)
		for _, room := range []string{"a", "b"} {
			joined, err := s.user("early-"+room).JoinLive(s.ctx, s.room(room))
			Expect(err).NotTo(HaveOccurred())
			Expect(joined.Battle).To(BeNil(), "room %s: battle %s is pending", room, id)
		}
		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		next[client.BattleStarted](s, a, client.EvBattleStarted)
		joined, err := s.user("late").JoinLive(s.ctx, s.room("b"))
		Expect(err).NotTo(HaveOccurred())
		Expect(joined.Battle).NotTo(BeNil(), "the battle runs")
		Expect(joined.Battle.BattleInfo.BattleID).To(Equal(id))
	})

	/*
		Testname: cursor-same-millisecond
		Description: fetchLiveList's cursor MUST lead to the rooms after the last one returned,
		skipping none that existed throughout (ROOM-008), whatever their creation times:
		rooms created at once, many in the same millisecond, paged one at a time, are each
		listed exactly once. A cursor that holds a time, not a position, loses the rooms that
		share the last one's millisecond. The burst is repeated (three times at most) until two
		of its rooms report the same createTime; the spec says so when none did.
	*/
	It("[ROOM-008 ROOM-010] paged one room at a time, fetchLiveList lists each room once, the ones created in the same millisecond included", Label("room"), func(ctx SpecContext) {
		s := newScene(ctx)
		const n = 24
		hosts := make([]*client.Client, n)
		for i := range hosts {
			hosts[i] = s.user(fmt.Sprintf("h%02d", i))
		}
		viewer := s.user("viewer")
		for burst := 1; ; burst++ {
			want := make([]string, n)
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i, h := range hosts {
				want[i] = s.room(fmt.Sprintf("%d-%02d", burst, i))
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = h.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: want[i], IsPublicVisible: ptr(true)})
				}()
			}
			wg.Wait()
			for i, err := range errs {
				Expect(err).NotTo(HaveOccurred(), "createLive %s", want[i])
			}
			listed := listedBy(s, viewer, 1)
			times := map[int64]int{}
			var got []string
			for _, li := range listed {
				got = append(got, li.LiveID)
				times[li.CreateTime]++
			}
			Expect(got).To(ConsistOf(want), "burst %d: each room listed once", burst)
			shared := len(times) < n
			if shared || burst == 3 {
				if !shared {
					AddReportEntry("no two rooms shared a millisecond in three bursts of 24: the cursor's handling of them is unchecked")
				}
				return
			}
			for _, h := range hosts {
				Expect(h.EndLive(s.ctx)).To(Succeed())
			}
		}
	})
})
