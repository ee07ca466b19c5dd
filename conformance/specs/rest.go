package specs

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// restCase is one framework-error case: how it changes a valid request, and the answer.
type restCase struct {
	method string
	api    string
	query  func(q url.Values)
	body   []byte
	status int
	code   int
}

// otherCase is id with the case of its letters swapped; it skips the spec when id has no
// letters, whose case could change.
func otherCase(id string) string {
	GinkgoHelper()
	swapped := strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, id)
	if swapped == id {
		Skip(fmt.Sprintf("the identifier %q has no letters to write in another case", id))
	}
	return swapped
}

var _ = Describe("REST API", Label("rest"), func() {
	It("[REST-001 REST-002] a successful call is HTTP 200 with ActionStatus OK, ErrorCode 0, an empty ErrorInfo, a unique RequestId and the Response", func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		id := startBattle(s, 300, hs[0], []*client.Client{hs[1]}).BattleInfo.BattleID
		r := s.rest()
		seen := map[string]bool{}
		for i := 0; i < 3; i++ {
			status, env, err := r.Do(s.ctx, http.MethodPost, client.APIGetBattleInfo, r.Query(), []byte(`{"BattleId":"`+id+`"}`))
			Expect(err).NotTo(HaveOccurred())
			Expect(status).To(Equal(http.StatusOK))
			Expect(env.ActionStatus).To(Equal("OK"))
			Expect(env.ErrorCode).To(BeZero())
			Expect(env.ErrorInfo).To(BeEmpty())
			Expect(env.RequestID).NotTo(BeEmpty())
			Expect(seen).NotTo(HaveKey(env.RequestID), "RequestId is unique per request")
			seen[env.RequestID] = true
			Expect(string(env.Response)).To(ContainSubstring(id))
		}
		status, env, err := r.Do(s.ctx, http.MethodPost, client.APIGetBattleInfo, r.Query(), []byte(`{"BattleId":"`+s.id("none")+`"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(status).To(Equal(http.StatusOK))
		Expect(env.ActionStatus).To(Equal("FAIL"))
		Expect(env.ErrorCode).To(Equal(client.CodeBattleNotExist))
		Expect(env.ErrorInfo).NotTo(BeEmpty())
		Expect(env.Response).To(BeEmpty(), "no Response on failure")
	})

	DescribeTable("[REST-003 REST-002] framework errors get their 600xx code, in the documented order, and change nothing",
		func(ctx SpecContext, c restCase) {
			s := newScene(ctx)
			hs := s.hosts("a", "b")
			battleWelcome(s)
			r := s.rest()
			q := r.Query()
			if c.query != nil {
				c.query(q)
			}
			body := c.body
			if body == nil {
				body = []byte(`{"FromRoomId":"` + s.room("a") + `","ToRoomIdList":["` + s.room("b") + `"],"Duration":60000}`)
			}
			api := c.api
			if api == "" {
				api = client.APICreateBattle
			}
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			status, env, err := r.Do(s.ctx, method, api, q, body)
			Expect(err).NotTo(HaveOccurred())
			Expect(status).To(Equal(c.status))
			Expect(env.ActionStatus).To(Equal("FAIL"))
			Expect(env.ErrorCode).To(Equal(c.code), "ErrorInfo: %s", env.ErrorInfo)
			Expect(env.ErrorInfo).NotTo(BeEmpty())
			Expect(env.RequestID).NotTo(BeEmpty())
			// Nothing was created: neither room is in a battle.
			none(s, hs[1], client.EvBattleRequestReceived)
			_, err = r.GetBattleInfo(s.ctx, "", s.room("a"))
			expectCode(err, client.CodeBattleNotExist)
		},
		Entry("no sdkappid: 60012", restCase{query: func(q url.Values) { q.Del("sdkappid") }, status: 200, code: client.CodeMissingSDKAppID}),
		Entry("an sdkappid that is not a number: 60006", restCase{query: func(q url.Values) { q.Set("sdkappid", "app") }, status: 200, code: client.CodeSDKAppIDInvalid}),
		Entry("an sdkappid not served: 60006", restCase{query: func(q url.Values) { q.Set("sdkappid", strconv.FormatUint(target.SDKAppID+1, 10)) }, status: 200, code: client.CodeSDKAppIDInvalid}),
		Entry("no usersig: 60004", restCase{query: func(q url.Values) { q.Del("usersig") }, status: 200, code: client.CodeAccountSignature}),
		Entry("a usersig that is not a token: 60004", restCase{query: func(q url.Values) { q.Set("usersig", "garbage") }, status: 200, code: client.CodeAccountSignature}),
		Entry("a usersig signed with another key: 60004", restCase{query: func(q url.Values) {
			sig, _ := client.SignUserSig(target.Secret+"x", target.SDKAppID, target.Admin, time.Hour, time.Now())
			q.Set("usersig", sig)
		}, status: 200, code: client.CodeAccountSignature}),
		Entry("an expired usersig: 60004", restCase{query: func(q url.Values) {
			sig, _ := client.SignUserSig(target.Secret, target.SDKAppID, target.Admin, time.Minute, time.Now().Add(-time.Hour))
			q.Set("usersig", sig)
		}, status: 200, code: client.CodeAccountSignature}),
		Entry("a usersig of another identifier: 60004", restCase{query: func(q url.Values) { q.Set("identifier", "someone-else") }, status: 200, code: client.CodeAccountSignature}),
		Entry("an identifier that is not an administrator: 60010", restCase{query: func(q url.Values) {
			sig, _ := client.SignUserSig(target.Secret, target.SDKAppID, "ordinary-user", time.Hour, time.Now())
			q.Set("identifier", "ordinary-user")
			q.Set("usersig", sig)
		}, status: 200, code: client.CodeNeedAdminRole}),
		Entry("an unknown API: 60002", restCase{api: "drop_battle", status: 200, code: client.CodeHTTPParse}),
		Entry("no random: 60002", restCase{query: func(q url.Values) { q.Del("random") }, status: 200, code: client.CodeHTTPParse}),
		Entry("a random above 4294967295: 60002", restCase{query: func(q url.Values) { q.Set("random", "4294967296") }, status: 200, code: client.CodeHTTPParse}),
		Entry("a negative random: 60002", restCase{query: func(q url.Values) { q.Set("random", "-1") }, status: 200, code: client.CodeHTTPParse}),
		Entry("contenttype xml: 60002", restCase{query: func(q url.Values) { q.Set("contenttype", "xml") }, status: 200, code: client.CodeHTTPParse}),
		Entry("a body over 64 KiB: 60002", restCase{body: []byte(`{"ExtensionInfo":"` + strings.Repeat("x", 64<<10) + `"}`), status: 200, code: client.CodeHTTPParse}),
		Entry("a body that is not JSON: 60003", restCase{body: []byte(`FromRoomId=a`), status: 200, code: client.CodeJSONParse}),
		Entry("a JSON array body: 60003", restCase{body: []byte(`[]`), status: 200, code: client.CodeJSONParse}),
		Entry("a GET: HTTP 405 and 60002", restCase{method: http.MethodGet, status: 405, code: client.CodeHTTPParse}),
		Entry("a PUT: HTTP 405 and 60002", restCase{method: http.MethodPut, status: 405, code: client.CodeHTTPParse}),
		Entry("a DELETE: HTTP 405 and 60002", restCase{method: http.MethodDelete, status: 405, code: client.CodeHTTPParse}),
		Entry("contenttype JSON (json only): 60002", restCase{query: func(q url.Values) { q.Set("contenttype", "JSON") }, status: 200, code: client.CodeHTTPParse}),
		Entry("a usersig of the identifier in another case: 60004", restCase{query: func(q url.Values) { q.Set("identifier", otherCase(q.Get("identifier"))) }, status: 200, code: client.CodeAccountSignature}),
		Entry("order: an unknown API and no sdkappid is 60012", restCase{api: "drop_battle", query: func(q url.Values) { q.Del("sdkappid") }, status: 200, code: client.CodeMissingSDKAppID}),
		Entry("order: an unknown API and a bad usersig is 60004", restCase{api: "drop_battle", query: func(q url.Values) { q.Set("usersig", "garbage") }, status: 200, code: client.CodeAccountSignature}),
		Entry("order: an unknown API and an identifier that is not an administrator is 60010", restCase{api: "drop_battle", query: func(q url.Values) {
			sig, _ := client.SignUserSig(target.Secret, target.SDKAppID, "ordinary-user", time.Hour, time.Now())
			q.Set("identifier", "ordinary-user")
			q.Set("usersig", sig)
		}, status: 200, code: client.CodeNeedAdminRole}),
		Entry("order: a bad usersig and a bad random is 60004", restCase{query: func(q url.Values) { q.Set("usersig", "garbage"); q.Del("random") }, status: 200, code: client.CodeAccountSignature}),
		Entry("order: no sdkappid and a bad usersig is 60012", restCase{query: func(q url.Values) { q.Del("sdkappid"); q.Set("usersig", "garbage") }, status: 200, code: client.CodeMissingSDKAppID}),
	)

	It("[REST-004] more requests per second than the limit are refused with 60007, and refused ones change nothing", Label("slow"), func(ctx SpecContext) {
		s := newScene(ctx)
		hs := s.hosts("a", "b")
		battleWelcome(s)
		id := startBattle(s, 300, hs[0], []*client.Client{hs[1]}).BattleInfo.BattleID
		r := s.rest()             // checked: for the calls around the burst
		fast := target.FastREST() // unchecked: the burst must outrun the limit
		total := 4 * target.RESTRateLimit
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		work := make(chan int)
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					_, err := fast.GetBattleInfo(s.ctx, id, "")
					mu.Lock()
					codes[client.CodeOf(err)]++
					mu.Unlock()
				}
			}()
		}
		start := time.Now()
		for i := 0; i < total; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
		elapsed := time.Since(start)
		// Right after the burst the allowance is spent: a score change now is refused and
		// must change nothing.
		_, setErr := fast.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("a"), Score: 7}}})
		AddReportEntry("REST burst", fmt.Sprintf("%d requests in %v: %v; then set_battle_score: %v", total, elapsed, codes, setErr))
		// At most limit × (1 + t) requests fit in t seconds (a full second's allowance at once,
		// then the rate); with a tenth of slack, more than that must meet refusals.
		allowed := float64(target.RESTRateLimit) * (1 + elapsed.Seconds()) * 1.1
		if float64(total) <= allowed {
			Skip(fmt.Sprintf("the suite sent %d requests in %v, within what %d/s allows (%.0f): too slow to test the limit", total, elapsed, target.RESTRateLimit, allowed))
		}
		Expect(codes[client.CodeRESTRateLimited]).To(BeNumerically(">", 0), "%d requests in %v (more than %.0f) and none refused: %v", total, elapsed, allowed, codes)
		Expect(codes[0]+codes[client.CodeRESTRateLimited]).To(Equal(total), "every answer is OK or 60007: %v", codes)
		// The limit is shared by every spec: leave a full second for the server's allowance to
		// refill before reading the result and before the next spec calls the REST API.
		select {
		case <-time.After(time.Second):
		case <-s.ctx.Done():
		}
		info, err := r.GetBattleInfo(s.ctx, id, "")
		Expect(err).NotTo(HaveOccurred())
		want := int64(0)
		if setErr == nil {
			want = 7
		} else {
			Expect(client.CodeOf(setErr)).To(Equal(client.CodeRESTRateLimited), "the change after the burst: %v", setErr)
		}
		Expect(info.FromRoomInfo.Score).To(Equal(want), "a refused change must change nothing")
	})

	It("[REST-010 REST-011] create_battle starts a battle at once between rooms that need not be connected, with a code per room", func(ctx SpecContext) {
		s := newScene(ctx)
		a, b, c := s.host("a"), s.host("b"), s.host("c") // not connected
		battleWelcome(s)
		ca := s.audience("ca", s.room("c"))
		hs := s.hosts("d", "e")
		startBattle(s, 300, hs[0], []*client.Client{hs[1]})
		r := s.rest()
		resp, err := r.CreateBattle(s.ctx, client.CreateBattleRequest{
			FromRoomID: s.room("a"), ToRoomIDList: []string{s.room("b"), s.room("nowhere"), s.room("d"), s.room("c")},
			Duration: 60400, ExtensionInfo: "extension pk",
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.BattleID).NotTo(BeEmpty())
		codes := map[string]int{}
		for _, res := range resp.Result {
			codes[res.RoomID] = res.ResultCode
		}
		Expect(codes).To(Equal(map[string]int{s.room("b"): 0, s.room("nowhere"): 1, s.room("d"): 3, s.room("c"): 0}))
		for _, m := range []*client.Client{b, c} {
			ev := next[client.BattleRequestEvent](s, m, client.EvBattleRequestReceived)
			Expect(ev.BattleInfo.BattleID).To(Equal(resp.BattleID))
			Expect(ev.BattleInfo.Config.NeedResponse).To(BeFalse())
		}
		for _, m := range []*client.Client{a, b, c, ca} {
			ev := next[client.BattleStarted](s, m, client.EvBattleStarted)
			Expect(ev.BattleInfo.Config.Duration).To(Equal(60), "60400 ms rounds to 60 s")
			Expect(ev.BattleInfo.Config.ExtensionInfo).To(Equal("extension pk"))
			Expect(ev.Inviter.UserID).To(Equal(a.UserID()))
			Expect(client.UserIDs(ev.Invitees)).To(Equal(userIDs(b, c)))
		}
		_, err = r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("nowhere"), ToRoomIDList: []string{s.room("b")}, Duration: 60000})
		expectCode(err, client.CodeLiveNotExist)
		_, err = r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("a"), ToRoomIDList: []string{s.room("e")}, Duration: 60000})
		expectCode(err, client.CodeLiveInOtherBattle)
		lone := s.host("lone")
		_, err = r.CreateBattle(s.ctx, client.CreateBattleRequest{FromRoomID: s.room("lone"), ToRoomIDList: []string{s.room("b"), s.room("nowhere")}, Duration: 60000})
		expectCode(err, client.CodeNoValidBattleLive)
		none(s, lone, client.EvBattleStarted)
	})

	DescribeTable("[REST-005 REST-010] create_battle refuses bad bodies with 100002 naming the field",
		func(ctx SpecContext, body func(s *scene) string, field string) {
			s := newScene(ctx)
			s.host("a")
			b := s.host("b")
			battleWelcome(s)
			err := s.rest().Call(s.ctx, client.APICreateBattle, jsonRaw(body(s)), nil)
			expectCode(err, client.CodeInvalidParameter)
			Expect(err.Error()).To(ContainSubstring(field))
			none(s, b, client.EvBattleRequestReceived)
		},
		Entry("no Duration", func(s *scene) string {
			return `{"FromRoomId":"` + s.room("a") + `","ToRoomIdList":["` + s.room("b") + `"]}`
		}, "Duration"),
		Entry("Duration under a second", func(s *scene) string {
			return `{"FromRoomId":"` + s.room("a") + `","ToRoomIdList":["` + s.room("b") + `"],"Duration":999}`
		}, "Duration"),
		Entry("Duration as a string", func(s *scene) string {
			return `{"FromRoomId":"` + s.room("a") + `","ToRoomIdList":["` + s.room("b") + `"],"Duration":"60000"}`
		}, "Duration"),
		Entry("no ToRoomIdList", func(s *scene) string { return `{"FromRoomId":"` + s.room("a") + `","Duration":60000}` }, "ToRoomIdList"),
		Entry("FromRoomId in ToRoomIdList", func(s *scene) string {
			return `{"FromRoomId":"` + s.room("a") + `","ToRoomIdList":["` + s.room("a") + `"],"Duration":60000}`
		}, "ToRoomIdList"),
		Entry("no FromRoomId", func(s *scene) string { return `{"ToRoomIdList":["` + s.room("b") + `"],"Duration":60000}` }, "FromRoomId"),
	)

	It("[REST-020] get_battle_info describes a battle by BattleId or RoomId: status, times, rooms, scores and hosts, also once ended", func(ctx SpecContext) {
		s := newScene(ctx, time.Second)
		hs := s.hosts("a", "b", "c")
		battleWelcome(s)
		a, b, c := hs[0], hs[1], hs[2]
		r := s.rest()
		pending, err := a.RequestBattle(s.ctx, client.RequestBattleRequest{UserIDs: userIDs(b, c), Config: client.BattleConfigRequest{Duration: ptr(1), NeedResponse: ptr(true)}, Timeout: ptr(0)})
		Expect(err).NotTo(HaveOccurred())
		id := pending.BattleInfo.BattleID
		info, err := r.GetBattleInfo(s.ctx, id, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Status).To(Equal(client.BattleStatusPending))
		Expect(info.StartTime).To(BeZero())
		Expect(info.Duration).To(Equal(int64(1000)), "Duration in milliseconds")
		Expect(info.FromRoomInfo).To(Equal(client.RoomScore{RoomID: s.room("a"), OwnerAccount: a.UserID()}))
		Expect(info.ToRoomList).To(ConsistOf(client.RoomScore{RoomID: s.room("b"), OwnerAccount: b.UserID()}, client.RoomScore{RoomID: s.room("c"), OwnerAccount: c.UserID()}))

		Expect(b.AcceptBattle(s.ctx, id)).To(Succeed())
		Expect(c.RejectBattle(s.ctx, id)).To(Succeed())
		started := next[client.BattleStarted](s, a, client.EvBattleStarted)
		_, err = r.SetBattleScore(s.ctx, client.SetBattleScoreRequest{BattleID: id, OpType: client.OpAdd, ScoreList: []client.ScoreItem{{RoomID: s.room("b"), Score: 99}}})
		Expect(err).NotTo(HaveOccurred())
		for _, q := range [][2]string{{id, ""}, {"", s.room("b")}, {"", s.room("a")}} {
			info, err = r.GetBattleInfo(s.ctx, q[0], q[1])
			Expect(err).NotTo(HaveOccurred(), "query %v", q)
			Expect(info.BattleID).To(Equal(id))
			Expect(info.Status).To(Equal(client.BattleStatusRunning))
			Expect(info.StartTime).To(Equal(started.BattleInfo.StartTime))
			Expect(info.EndTime).To(Equal(started.BattleInfo.StartTime + 1))
			Expect(info.ToRoomList).To(Equal([]client.RoomScore{{RoomID: s.room("b"), Score: 99, OwnerAccount: b.UserID()}}))
			Expect(info.ScoreVersion).To(Equal(uint64(1)))
		}
		_, err = r.GetBattleInfo(s.ctx, "", s.room("c"))
		expectCode(err, client.CodeBattleNotExist) // c rejected: it is in no battle

		nextWithin[client.BattleEnded](s, a, client.EvBattleEnded, time.Second+target.EventTimeout)
		info, err = r.GetBattleInfo(s.ctx, id, "")
		Expect(err).NotTo(HaveOccurred(), "an ended battle stays queryable")
		Expect(info.Status).To(Equal(client.BattleStatusEnded))
		Expect(info.ToRoomList[0].Score).To(Equal(int64(99)))
		_, err = r.GetBattleInfo(s.ctx, "", s.room("a"))
		expectCode(err, client.CodeBattleNotExist) // the room is in no battle any more
		_, err = r.GetBattleInfo(s.ctx, s.id("nope"), "")
		expectCode(err, client.CodeBattleNotExist)
		expectCode(r.Call(s.ctx, client.APIGetBattleInfo, map[string]any{}, nil), client.CodeInvalidParameter)
	})
})

// jsonRaw is a body sent exactly as written.
type jsonRaw string

// MarshalJSON returns the text as is.
func (j jsonRaw) MarshalJSON() ([]byte, error) { return []byte(j), nil }
