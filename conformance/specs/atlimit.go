package specs

import (
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/conformance/results"
)

// Every documented bound is checked from both sides: the value at the bound is accepted and
// the next one refused. A spec that only sends values beyond a bound cannot tell a server
// that refuses one value too many from a correct one.

// Documented bounds of request fields (SPEC COHOST-007, BATTLE-002, REST-030, REST-034,
// ROOM-008, AUTH-001, TRANS-003).
const (
	maxTimeoutS       = 3600
	maxExtensionInfo  = 1024
	maxScoreListItems = 100
	maxIdempotencyKey = 128
	maxListCount      = 100
	maxUserIDBytes    = 32
	maxUserNameBytes  = 64
	maxAvatarURLBytes = 512
	maxRequestIDBytes = 64
	maxScore          = int64(1)<<53 - 1
)

// padded returns an ID unique to the scene, exactly n bytes long.
func padded(s *scene, name string, n int) string {
	GinkgoHelper()
	id := s.id(name)
	Expect(len(id)).To(BeNumerically("<=", n), "the scene's ID %q is longer than %d bytes", id, n)
	return id + strings.Repeat("x", n-len(id))
}

var _ = Describe("Limits at and beyond the limit", Label("limits"), func() {
	It("[COHOST-007] requestConnection takes a timeout of 3600 and an extensionInfo of 1024 bytes, and refuses 3601 and 1025 bytes with 100002", Label("cohost"), func(ctx SpecContext) {
		s := newScene(ctx)
		a, b := s.host("a"), s.host("b")
		ext := strings.Repeat("e", maxExtensionInfo)
		codes, err := a.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("b")}, Timeout: ptr(maxTimeoutS), ExtensionInfo: ext})
		Expect(err).NotTo(HaveOccurred(), "timeout %d and extensionInfo of %d bytes are within the bounds", maxTimeoutS, maxExtensionInfo)
		Expect(codes).To(HaveKeyWithValue(s.room("b"), client.ConnSuccess))
		Expect(next[client.ConnectionRequestReceived](s, b, client.EvConnectionRequestReceived).ExtensionInfo).To(Equal(ext))
		Expect(a.CancelConnectionRequest(s.ctx, s.room("b"))).To(Succeed())
		next[client.ConnectionRequestOutcome](s, b, client.EvConnectionRequestCancelled)

		_, err = a.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("b")}, Timeout: ptr(maxTimeoutS + 1)})
		expectCode(err, client.CodeInvalidParameter)
		_, err = a.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: []string{s.room("b")}, Timeout: ptr(0), ExtensionInfo: ext + "e"})
		expectCode(err, client.CodeInvalidParameter)
		none(s, b, client.EvConnectionRequestReceived)
	})

	It("[BATTLE-002] requestBattle takes maxBattleDurationS, a timeout of 3600 and an extensionInfo of 1024 bytes, and refuses one more of each with 100002", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		w := battleWelcome(s)
		a, b := hs[0], hs[1]
		maxD := w.Limits.MaxBattleDurationS
		ext := strings.Repeat("e", maxExtensionInfo)
		reply, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b), Timeout: ptr(maxTimeoutS),
			Config: client.BattleConfigRequest{Duration: ptr(maxD), NeedResponse: ptr(true), ExtensionInfo: ext}})
		Expect(err).NotTo(HaveOccurred(), "duration %d (maxBattleDurationS), timeout %d and extensionInfo of %d bytes are within the bounds", maxD, maxTimeoutS, maxExtensionInfo)
		Expect(reply.BattleInfo.Config).To(Equal(client.BattleConfig{Duration: maxD, NeedResponse: true, ExtensionInfo: ext}))
		Expect(next[client.BattleRequestEvent](s, b, client.EvBattleRequestReceived).BattleInfo.Config.Duration).To(Equal(maxD))
		Expect(a.CancelBattleRequest(s.ctx, reply.BattleInfo.BattleID, b.UserID())).To(Succeed())
		next[client.BattleRequestEvent](s, b, client.EvBattleRequestCancelled)

		for what, req := range map[string]client.RequestBattleRequest{
			"maxBattleDurationS + 1":      {UserIDs: userIDs(b), Config: client.BattleConfigRequest{Duration: ptr(maxD + 1)}},
			"a timeout of 3601":           {UserIDs: userIDs(b), Timeout: ptr(maxTimeoutS + 1), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}},
			"1025 bytes of extensionInfo": {UserIDs: userIDs(b), Config: client.BattleConfigRequest{ExtensionInfo: ext + "e"}},
		} {
			_, err := a.RequestBattle(s.ctx, req)
			Expect(err).To(HaveOccurred(), what)
			Expect(client.CodeOf(err)).To(Equal(client.CodeInvalidParameter), "%s: %v", what, err)
		}
		none(s, b, client.EvBattleRequestReceived, client.EvBattleStarted)
	})

	It("[BATTLE-002 BATTLE-005] requestBattle takes maxConnectedRooms − 1 userIDs and refuses maxConnectedRooms with 100002", Label("battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		first := s.host("h0")
		max := fillable("maxConnectedRooms", s.welcome().Limits.MaxConnectedRooms)
		battleWelcome(s)
		hosts := []*client.Client{first}
		for i := 1; i < max; i++ {
			hosts = append(hosts, s.host(fmt.Sprint("h", i)))
		}
		connect(s, first, hosts[1:]...)
		invitees := hosts[1:]
		_, err := first.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: append(userIDs(invitees...), s.id("ghost"))})
		expectCode(err, client.CodeInvalidParameter)
		for _, h := range invitees {
			none(s, h, client.EvBattleRequestReceived)
		}
		reply, err := first.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(invitees...), Config: client.BattleConfigRequest{NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred(), "%d userIDs: maxConnectedRooms − 1", len(invitees))
		Expect(reply.Results).To(HaveLen(len(invitees)))
		for _, h := range invitees {
			Expect(reply.Results).To(HaveKeyWithValue(h.UserID(), client.BattleSuccess))
			next[client.BattleRequestEvent](s, h, client.EvBattleRequestReceived)
		}
	})

	It("[REST-010 REST-011] create_battle takes a Duration of 1000 ms and of maxBattleDurationS × 1000 ms and maxConnectedRooms − 1 rooms, and refuses 999 ms, 1 ms, 499 ms or a second more and a room more with 100002", Label("rest", "battle"), func(ctx SpecContext) {
		s := newScene(ctx)
		first := s.host("h0")
		w := battleWelcome(s)
		max := fillable("maxConnectedRooms", w.Limits.MaxConnectedRooms)
		maxMs := int64(w.Limits.MaxBattleDurationS) * 1000
		var rooms []string
		var invitees []*client.Client
		for i := 1; i < max; i++ {
			invitees = append(invitees, s.host(fmt.Sprint("h", i)))
			rooms = append(rooms, s.room(fmt.Sprint("h", i)))
		}
		x, y := s.host("x"), s.host("y")
		r := s.rest()
		refused := map[string]client.CreateBattleRequest{
			"999 ms":                              {FromRoomID: s.room("x"), ToRoomIDList: []string{s.room("y")}, Duration: 999},
			"maxBattleDurationS × 1000 + 1000 ms": {FromRoomID: s.room("x"), ToRoomIDList: []string{s.room("y")}, Duration: maxMs + 1000},
			"maxBattleDurationS × 1000 + 1 ms":    {FromRoomID: s.room("x"), ToRoomIDList: []string{s.room("y")}, Duration: maxMs + 1},
			"maxBattleDurationS × 1000 + 499 ms":  {FromRoomID: s.room("x"), ToRoomIDList: []string{s.room("y")}, Duration: maxMs + 499},
			"maxConnectedRooms rooms":             {FromRoomID: s.room("h0"), ToRoomIDList: append(append([]string{}, rooms...), s.room("y")), Duration: 60000},
		}
		for what, req := range refused {
			_, err := r.CreateBattle(s.ctx, req)
			Expect(err).To(HaveOccurred(), what)
			Expect(client.CodeOf(err)).To(Equal(client.CodeInvalidParameter), "%s: %v", what, err)
		}
		for _, c := range append([]*client.Client{x, y}, invitees...) {
			none(s, c, client.EvBattleRequestReceived)
		}

		long, err := r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("h0"), ToRoomIDList: rooms, Duration: maxMs})
		Expect(err).NotTo(HaveOccurred(), "%d rooms (maxConnectedRooms − 1) for %d ms (maxBattleDurationS × 1000)", len(rooms), maxMs)
		Expect(long.Result).To(HaveLen(len(rooms)))
		for _, res := range long.Result {
			Expect(res.ResultCode).To(BeZero(), res.RoomID)
		}
		for _, c := range append([]*client.Client{first}, invitees...) {
			Expect(next[client.BattleStarted](s, c, client.EvBattleStarted).BattleInfo.Config.Duration).To(Equal(w.Limits.MaxBattleDurationS))
		}
		short, err := r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("x"), ToRoomIDList: []string{s.room("y")}, Duration: 1000})
		Expect(err).NotTo(HaveOccurred(), "1000 ms is the shortest battle")
		for _, c := range []*client.Client{x, y} {
			ev := next[client.BattleStarted](s, c, client.EvBattleStarted)
			Expect(ev.BattleInfo.BattleID).To(Equal(short.BattleID))
			Expect(ev.BattleInfo.Config.Duration).To(Equal(1))
		}
	})

	It("[REST-030] set_battle_score takes 100 items and a score of 2^53 − 1, and refuses 101 items with 100002", Label("rest", "battle", "score"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		a := hs[0]
		id := startBattle(s, 300, a, hs[1:]).BattleInfo.BattleID
		r := s.rest()
		// Rooms that take no part get ResultCode 1 and are ignored (REST-031): they fill the
		// list up to the bound around the two that do.
		list := []client.ScoreItem{{RoomID: s.room("a"), Score: maxScore}}
		for i := len(list); i < maxScoreListItems-1; i++ {
			list = append(list, client.ScoreItem{RoomID: s.room(fmt.Sprint("nobody", i)), Score: 1})
		}
		list = append(list, client.ScoreItem{RoomID: s.room("b"), Score: 3})

		over := append(append([]client.ScoreItem{}, list...), client.ScoreItem{RoomID: s.room("b"), Score: 4})
		_, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, ScoreList: over})
		expectCode(err, client.CodeInvalidParameter)
		none(s, a, client.EvBattleScoreChanged)

		resp, err := r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpOverwrite, ScoreList: list})
		Expect(err).NotTo(HaveOccurred(), "%d items, one of them 2^53 − 1", len(list))
		Expect(resp.Result).To(HaveLen(maxScoreListItems))
		Expect(resp.ScoreVersion).To(Equal(uint64(1)))
		ev := next[client.BattleScoreChanged](s, a, client.EvBattleScoreChanged)
		Expect(ev.BattleUserList[0].Score).To(Equal(maxScore))
		Expect(ev.BattleUserList[1].Score).To(Equal(int64(3)))
	})

	It("[REST-034] an IdempotencyKey of 128 bytes is kept and one of 129 bytes is refused with 100002", Label("rest", "battle", "score"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		id := startBattle(s, 300, hs[0], hs[1:]).BattleInfo.BattleID
		r := s.rest()
		key := padded(s, "key", maxIdempotencyKey)
		req := client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, IdempotencyKey: key + "k", ScoreList: []client.ScoreItem{{RoomID: s.room("b"), Score: 5}}}
		_, err := r.SetBattleScore(s.ctx, req)
		expectCode(err, client.CodeInvalidParameter)
		req.IdempotencyKey = key
		first, err := r.SetBattleScore(s.ctx, req)
		Expect(err).NotTo(HaveOccurred(), "a key of %d bytes", len(key))
		again, err := r.SetBattleScore(s.ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(Equal(first), "the retry with the same key gets the first response")
		Expect(hs[0].Sync(s.ctx)).To(Succeed())
		Expect(expectVersions(hs[0], id, 1).BattleUserList[1].Score).To(Equal(int64(5)), "applied once")
	})

	It("[ROOM-008] fetchLiveList takes a count of 100 and refuses 101 with 100002", Label("room"), func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("v")
		page, err := c.FetchLiveList(s.ctx, "", maxListCount)
		Expect(err).NotTo(HaveOccurred())
		Expect(len(page.LiveInfoList)).To(BeNumerically("<=", maxListCount))
		_, err = c.FetchLiveList(s.ctx, "", maxListCount+1)
		expectCode(err, client.CodeInvalidParameter)
	})

	It("[ROOM-002] createLive takes maxSeatCount 1 and limits.maxSeatCount and a seatTemplate of 0, and refuses limits.maxSeatCount + 1 with 100002", Label("room"), func(ctx SpecContext) {
		s := newScene(ctx)
		one, most, over := s.user("one"), s.user("most"), s.user("over")
		max := s.welcome().Limits.MaxSeatCount
		r, err := one.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("one"), MaxSeatCount: ptr(1), SeatTemplate: ptr(0)})
		Expect(err).NotTo(HaveOccurred(), "maxSeatCount 1, seatTemplate 0")
		Expect(r.SeatList).To(HaveLen(1))
		Expect(r.LiveInfo.SeatTemplate).To(BeZero())
		r, err = most.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("most"), MaxSeatCount: ptr(max)})
		Expect(err).NotTo(HaveOccurred(), "maxSeatCount %d (limits.maxSeatCount)", max)
		Expect(r.SeatList).To(HaveLen(max))
		_, err = over.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("over"), MaxSeatCount: ptr(max + 1)})
		expectCode(err, client.CodeInvalidParameter)
	})

	It("[AUTH-001] a handshake with a userid of 32 bytes, a username of 64 bytes and an avatarurl of 512 bytes is accepted, and its names are kept", Label("auth"), func(ctx SpecContext) {
		s := newScene(ctx)
		id := padded(s, "u", maxUserIDBytes)
		name, avatar := strings.Repeat("n", maxUserNameBytes), "https://example.com/"+strings.Repeat("a", maxAvatarURLBytes-len("https://example.com/"))
		c := s.user("u", func(cfg *client.Config) { cfg.UserID, cfg.UserName, cfg.AvatarURL = id, name, avatar })
		Expect(c.Welcome().UserID).To(Equal(id))
		r, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("u")})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.LiveInfo.LiveOwner).To(Equal(client.LiveUserInfo{UserID: id, UserName: name, AvatarURL: avatar}))
	})

	It("[SEAT-001] takeSeat takes the last seat, maxSeatCount − 1, and refuses maxSeatCount with 100200", Label("seat"), func(ctx SpecContext) {
		s := newScene(ctx)
		h := s.host("h")
		v := s.audience("v", s.room("h"))
		info, err := v.FetchLiveInfo(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		last := info.MaxSeatCount - 1
		expectCode(v.TakeSeat(s.ctx, last+1), client.CodeSeatIndexInvalid)
		none(s, h, client.EvSeatListChanged)
		Expect(v.TakeSeat(s.ctx, last)).To(Succeed(), "seat %d of a room of %d seats", last, info.MaxSeatCount)
		ev := next[client.SeatListChanged](s, h, client.EvSeatListChanged)
		Expect(ev.SeatList[last].UserInfo.UserID).To(Equal(v.UserID()))
	})

	It("[RATE-001] a new connection's requestBurst requests sent at once are all served", Label("input", "rate"), func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("c", func(cfg *client.Config) { cfg.NoHeartbeat = true }) // its bucket holds exactly the burst
		lim := c.Welcome().Limits
		if lim.MaxRequestsPerSecond <= 0 || lim.RequestBurst <= 0 {
			Skip(results.NotApplicable("the server advertises no per-connection request limit (RATE-001 is a MAY)"))
		}
		if lim.RequestBurst > 100*limitCap {
			Skip(fmt.Sprintf("the server advertises requestBurst %d; the suite sends at most %d at once", lim.RequestBurst, 100*limitCap))
		}
		// As in the spec of the limit itself: batches, never more than half the send queue
		// in flight (RATE-001's SHOULD).
		inFlight := max(2, min(64, lim.SendQueueFrames/2))
		batch := inFlight / 2
		window := make(chan struct{}, inFlight)
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for sent := 0; sent < lim.RequestBurst; sent += batch {
			k := min(batch, lim.RequestBurst-sent)
			for range k {
				wg.Add(1)
				window <- struct{}{}
			}
			c.GoBatch(client.ReqHeartbeat, struct{}{}, k, func(_ client.Frame, err error) {
				defer func() { <-window }()
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				code := client.CodeOf(err)
				if err != nil && code == 0 {
					code = -1
				}
				codes[code]++
			})
		}
		wg.Wait()
		Expect(codes).To(Equal(map[int]int{0: lim.RequestBurst}), "%d requests, the advertised requestBurst: by code", lim.RequestBurst)
	})

	It("[REST-004] requests at four fifths of the configured rate are all served: only more than the configured number per second may be refused", Label("rest", "slow"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		id := startBattle(s, 300, hs[0], hs[1:]).BattleInfo.BattleID
		fast := target.FastREST() // unchecked: the checks must not slow the pace below the rate
		n := max(1, target.RESTRateLimit*4/5)
		every := time.Second * 5 / 4 / time.Duration(target.RESTRateLimit)
		tick := time.NewTicker(every) // a late tick is dropped, never bunched: at most n+1 a second
		defer tick.Stop()
		codes := map[int]int{}
		start := time.Now()
		for range n {
			select {
			case <-tick.C:
			case <-s.ctx.Done():
				Fail("the spec's time ran out")
			}
			_, err := fast.GetBattleInfo(s.ctx, id, "")
			codes[client.CodeOf(err)]++
		}
		AddReportEntry("REST at the rate", fmt.Sprintf("%d requests in %v: %v", n, time.Since(start), codes))
		Expect(codes).To(Equal(map[int]int{0: n}), "%d requests over a second, the limit being %d a second: by code", n, target.RESTRateLimit)
	})

	It("[HOOK-005] a webhook the receiver fails four times is delivered on the fifth attempt, with the same EventId, after a backoff that grows", Label("webhook"), func(ctx SpecContext) {
		s := newScene(ctx, hookRetryWait)
		r := receiver()
		hs := s.hosts("a", "b")
		battleWelcome(s)
		from := s.room("a")
		r.FailNext(4, createFrom(from))
		id := startBattle(s, 300, hs[0], hs[1:]).BattleInfo.BattleID
		hooksOf(s, r, id, hookRetryWait, client.HookCreateBattle, client.HookStartBattle)
		creates := attemptsOf(r, id, client.HookCreateBattle)
		Expect(creates).To(HaveLen(5), "four failed attempts and the fifth, delivered")
		for i, d := range creates {
			Expect(d.EventID).To(Equal(creates[0].EventID), "attempt %d", i+1)
		}
		Expect(creates[4].Answered).To(Equal(200))
		// Exponential backoff as HOOK-005 pins it: the last gap at least twice the shortest of
		// the three before it (a backoff growing by 1.26 or more a step; a fixed one fails,
		// unless a stall stretches its last gap). The shortest, not the first: a stall on a
		// busy machine lengthens a gap, never shortens one.
		var gaps []time.Duration
		for i := 1; i < len(creates); i++ {
			gaps = append(gaps, creates[i].At.Sub(creates[i-1].At))
		}
		AddReportEntry("webhook backoff", fmt.Sprint(gaps))
		Expect(gaps[3]).To(BeNumerically(">=", 2*min(gaps[0], gaps[1], gaps[2])), "HOOK-005: exponential backoff; gaps %v", gaps)
	})

	It("[TRANS-003 TRANS-006] a request id of 64 bytes is accepted and echoed in the reply", Label("transport"), func(ctx SpecContext) {
		s := newScene(ctx)
		c := s.user("c")
		id := strings.Repeat("i", maxRequestIDBytes)
		f, err := c.Send(s.ctx, id, client.ReqHeartbeat, []byte(`{"type":"heartbeat","id":"`+id+`","payload":{}}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(f.ID).NotTo(BeNil())
		Expect(*f.ID).To(Equal(id))
		Expect(*f.Code).To(BeZero(), "a heartbeat with an id of %d bytes: %s", len(id), f.Raw)
	})
})
