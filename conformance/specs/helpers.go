package specs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
	"github.com/pkarena/pkarena/conformance/results"
)

// specBudget bounds one spec beyond the timing the server advertises, so that a server that
// never answers fails the spec instead of hanging the run.
const specBudget = 60 * time.Second

var sceneCounter atomic.Int64

// scene is one spec's world: its users and rooms, named uniquely for the spec and the run,
// closed and checked for protocol violations when the spec ends.
type scene struct {
	ctx    context.Context // the spec's context bounded by its budget
	base   context.Context // the spec's context as Ginkgo gave it
	prefix string
	wel    client.Welcome            // the welcome of the scene's first user
	users  map[string]*client.Client // every user the scene connected, by name
}

// newScene starts a spec's scene. extra is time the spec waits on purpose (timeouts,
// heartbeats), added to its budget.
func newScene(ctx context.Context, extra ...time.Duration) *scene {
	budget := specBudget
	for _, d := range extra {
		budget += d
	}
	c, cancel := context.WithTimeout(ctx, budget)
	DeferCleanup(cancel)
	return &scene{ctx: c, base: ctx, prefix: fmt.Sprintf("%s%d", runID, sceneCounter.Add(1)), users: map[string]*client.Client{}}
}

// allow extends the spec's budget by d from now, for waits that depend on the timing the
// server advertises.
func (s *scene) allow(d time.Duration) {
	c, cancel := context.WithTimeout(s.base, specBudget+d)
	DeferCleanup(cancel)
	s.ctx = c
}

// id returns a user or room ID unique to the scene.
func (s *scene) id(name string) string { return s.prefix + "-" + name }

// room returns the liveID the scene gives the room of host name.
func (s *scene) room(name string) string { return s.id("r" + name) }

// user connects a new user called name.
func (s *scene) user(name string, opts ...func(*client.Config)) *client.Client {
	GinkgoHelper()
	cfg := target.ClientConfig(s.id(name))
	for _, o := range opts {
		o(&cfg)
	}
	c, err := client.Dial(s.ctx, cfg)
	Expect(err).NotTo(HaveOccurred(), "connecting %s", cfg.UserID)
	if s.wel.Protocol == "" {
		s.wel = c.Welcome()
	}
	s.users[name] = c
	DeferCleanup(func() {
		attachTranscript(c)
		noteOwnSlowness(c)
		c.Close()
		Expect(c.Violations()).To(BeEmpty(), "protocol violations seen by %s", c.UserID())
	})
	return c
}

// attachTranscript adds c's transcript to a failed spec's report (report.html shows it).
func attachTranscript(c *client.Client) {
	if !CurrentSpecReport().Failed() && len(c.Violations()) == 0 {
		return
	}
	frames, dropped := c.Transcript()
	t := results.Transcript{Client: c.UserID(), Dropped: dropped}
	for _, f := range frames {
		dir := "received"
		if f.Sent {
			dir = "sent"
		}
		t.Frames = append(t.Frames, results.Frame{At: f.At, Dir: dir, Text: f.Text})
	}
	AddReportEntry(TranscriptEntry, t, ReportEntryVisibilityNever)
}

// noteOwnSlowness adds a SlowSuiteEntry to a failed spec's report when c was dropped for
// silence because the suite itself, not the server, was late with its heartbeats: the
// runner then reports the spec as an Error of the harness, not a Fail of the server.
func noteOwnSlowness(c *client.Client) {
	if !CurrentSpecReport().Failed() {
		return
	}
	if late, gap := c.DroppedForOwnSlowness(); late {
		AddReportEntry(SlowSuiteEntry, fmt.Sprintf("the suite's client %s let %v pass between two heartbeats, more than the server's heartbeatTimeoutMs (%d ms), and was dropped with 4000: the machine running the suite was too busy to test these timings (run it on a quieter machine, or give the server a longer heartbeat timeout)",
			c.UserID(), gap.Round(time.Millisecond), c.Welcome().Timing.HeartbeatTimeoutMs), ReportEntryVisibilityFailureOrVerbose)
	}
}

// SlowSuiteEntry names the report entry of a spec that failed because the suite's own client
// was too slow (noteOwnSlowness).
const SlowSuiteEntry = "pkarena harness too slow"

// TranscriptEntry names the report entries that carry a client's transcript.
const TranscriptEntry = "pkarena transcript"

// TargetEntry names the BeforeSuite's report entry that describes the server under test.
const TargetEntry = "target"

// host connects user name and creates its room s.room(name).
func (s *scene) host(name string) *client.Client {
	GinkgoHelper()
	c := s.user(name)
	_, err := c.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room(name), LiveName: "room of " + name})
	Expect(err).NotTo(HaveOccurred(), "%s creates its room", name)
	return c
}

// audience connects user name and joins room liveID.
func (s *scene) audience(name, liveID string) *client.Client {
	GinkgoHelper()
	c := s.user(name)
	_, err := c.JoinLive(s.ctx, liveID)
	Expect(err).NotTo(HaveOccurred(), "%s joins %s", name, liveID)
	return c
}

// named returns the user the scene connected as name.
func (s *scene) named(name string) *client.Client {
	GinkgoHelper()
	c := s.users[name]
	Expect(c).NotTo(BeNil(), "the scene has no user %q", name)
	return c
}

// crowdWorkers bounds the connections crowd opens at once.
const crowdWorkers = 32

// crowd connects users names[i] and joins them to rooms liveIDs[i], many at a time, and
// returns them in order. It is for specs that need hundreds of users.
func (s *scene) crowd(names, liveIDs []string) []*client.Client {
	GinkgoHelper()
	out := make([]*client.Client, len(names))
	errs := make([]error, len(names))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < crowdWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c, err := client.Dial(s.ctx, target.ClientConfig(s.id(names[i])))
				if err == nil {
					out[i] = c
					_, err = c.JoinLive(s.ctx, liveIDs[i])
				}
				errs[i] = err
			}
		}()
	}
	for i := range names {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, c := range out {
		if c != nil {
			s.users[names[i]] = c
			DeferCleanup(func() {
				noteOwnSlowness(c)
				c.Close()
				Expect(c.Violations()).To(BeEmpty(), "protocol violations seen by %s", c.UserID())
			})
		}
		Expect(errs[i]).NotTo(HaveOccurred(), "%s joins %s", names[i], liveIDs[i])
	}
	return out
}

// welcome is the welcome of the scene's first user (the server's advertised settings).
func (s *scene) welcome() client.Welcome {
	GinkgoHelper()
	Expect(s.wel.Protocol).NotTo(BeEmpty(), "the scene has no user yet")
	return s.wel
}

// wait returns a context bounded by the time an event that must follow at once may take.
func (s *scene) wait() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, target.EventTimeout)
}

// next waits for c's next event of type typ and decodes it.
func next[T any](s *scene, c *client.Client, typ string) T {
	GinkgoHelper()
	ctx, cancel := s.wait()
	defer cancel()
	v, err := client.NextAs[T](ctx, c, typ)
	Expect(err).NotTo(HaveOccurred())
	return v
}

// nextWithin is next with an explicit wait.
func nextWithin[T any](s *scene, c *client.Client, typ string, d time.Duration) (T, client.Event) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(s.ctx, d)
	defer cancel()
	e, err := c.Next(ctx, typ)
	Expect(err).NotTo(HaveOccurred())
	var v T
	Expect(e.Decode(&v)).To(Succeed())
	return v, e
}

// none asserts that no unread event of any of the types (of any type if none is given) has
// reached c, after a heartbeat round trip (TRANS-011) has flushed whatever the server had
// produced for c.
func none(s *scene, c *client.Client, types ...string) {
	GinkgoHelper()
	Expect(c.Sync(s.ctx)).To(Succeed())
	if len(types) == 0 {
		types = []string{""}
	}
	for _, typ := range types {
		Expect(c.Unread(typ)).To(BeEmpty(), "%s received %s", c.UserID(), typ)
	}
}

// settle flushes every client with a heartbeat round trip and marks all their events read.
func settle(s *scene, cs ...*client.Client) {
	GinkgoHelper()
	for _, c := range cs {
		Expect(c.Sync(s.ctx)).To(Succeed())
		c.Skip()
	}
}

// expectCode asserts that err is a refusal with code.
func expectCode(err error, code int) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred(), "want error code %d", code)
	Expect(client.CodeOf(err)).To(Equal(code), "error: %v", err)
}

// connect makes inviter invite the rooms of invitees, each accept, and waits until every
// host has seen the group form; then all their events are marked read.
func connect(s *scene, inviter *client.Client, invitees ...*client.Client) {
	GinkgoHelper()
	ids := make([]string, len(invitees))
	for i, c := range invitees {
		ids[i] = s.roomOf(c)
	}
	codes, err := inviter.RequestConnection(s.ctx, client.RequestConnectionRequest{LiveIDs: ids, Timeout: ptr(0)})
	Expect(err).NotTo(HaveOccurred())
	for _, id := range ids {
		Expect(codes).To(HaveKeyWithValue(id, client.ConnSuccess))
	}
	for _, c := range invitees {
		next[client.ConnectionRequestReceived](s, c, client.EvConnectionRequestReceived)
		Expect(c.AcceptConnection(s.ctx, s.roomOf(inviter))).To(Succeed())
	}
	settle(s, append([]*client.Client{inviter}, invitees...)...)
}

// roomOf is the room of a host created by s.host: the user ID's name part prefixed with "r".
func (s *scene) roomOf(c *client.Client) string {
	return s.room(c.UserID()[len(s.prefix)+1:])
}

func ptr[T any](v T) *T { return &v }

// seatOf returns the seat of userID in list, or nil.
func seatOf(list []client.SeatInfo, userID string) *client.SeatInfo {
	for i := range list {
		if list[i].UserInfo.UserID == userID {
			return &list[i]
		}
	}
	return nil
}

// seatsOfRoom returns the seats of liveID in list, in list order.
func seatsOfRoom(list []client.SeatInfo, liveID string) []client.SeatInfo {
	var out []client.SeatInfo
	for _, si := range list {
		if si.LiveID == liveID {
			out = append(out, si)
		}
	}
	return out
}

// rest returns a REST client of the target whose answers are checked against the OpenAPI
// description; violations fail the spec when it ends.
func (s *scene) rest() *client.REST {
	GinkgoHelper()
	r := target.REST()
	DeferCleanup(func() {
		Expect(r.Violations()).To(BeEmpty(), "REST answers that break SPEC §15 or the OpenAPI description")
	})
	return r
}

// battleWelcome skips the spec when the server advertises no battles.
func battleWelcome(s *scene) client.Welcome {
	GinkgoHelper()
	w := s.welcome()
	if !w.Features.Battle {
		Skip(results.Unsupported("battle", "the server advertises features.battle: false (SPEC WELCOME-004)"))
	}
	return w
}

// hosts connects hosts with the given names and connects their rooms into one group. A
// group larger than the server's maxConnectedRooms makes the spec not applicable (the
// harness refuses targets that connect fewer than eight rooms: CheckLimits).
func (s *scene) hosts(names ...string) []*client.Client {
	GinkgoHelper()
	cs := make([]*client.Client, len(names))
	for i, n := range names {
		cs[i] = s.host(n)
		if most := s.welcome().Limits.MaxConnectedRooms; i == 0 && len(names) > most {
			Skip(results.NotApplicable(fmt.Sprintf("the spec connects %d rooms; the server connects at most %d", len(names), most)))
		}
	}
	if len(cs) > 1 {
		connect(s, cs[0], cs[1:]...)
	}
	return cs
}

// restBattle connects hosts a and b, starts a 300 s battle of a against b, and returns the
// two hosts, the battle's ID and a REST client: the scene of most set_battle_score specs.
func restBattle(s *scene) (a, b *client.Client, id string, r *client.REST) {
	GinkgoHelper()
	hs := s.hosts("a", "b")
	battleWelcome(s)
	a, b = hs[0], hs[1]
	id = startBattle(s, 300, a, []*client.Client{b}).BattleInfo.BattleID
	return a, b, id, s.rest()
}

// userIDs lists the user IDs of clients.
func userIDs(cs ...*client.Client) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.UserID()
	}
	return out
}

// startBattle has inviter start a battle without responses against invitees, checks that
// everyone in observers sees it start, and marks their events read.
func startBattle(s *scene, duration int, inviter *client.Client, invitees []*client.Client, observers ...*client.Client) client.RequestBattleReply {
	GinkgoHelper()
	reply, err := inviter.RequestBattle(s.ctx, client.RequestBattleRequest{
		Config: client.BattleConfigRequest{Duration: ptr(duration), NeedResponse: ptr(false)}, UserIDs: userIDs(invitees...),
	})
	Expect(err).NotTo(HaveOccurred())
	for _, id := range userIDs(invitees...) {
		Expect(reply.Results).To(HaveKeyWithValue(id, client.BattleSuccess))
	}
	all := append(append([]*client.Client{inviter}, invitees...), observers...)
	for _, c := range all {
		ev := next[client.BattleStarted](s, c, client.EvBattleStarted)
		Expect(ev.BattleInfo.BattleID).To(Equal(reply.BattleInfo.BattleID))
	}
	settle(s, all...)
	return reply
}

// context2 is a context of s bounded by d.
func context2(s *scene, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, d)
}

// lossGrace is how much later than without resume a server may act on the loss of a
// connection that dropped without a close handshake (a Kill, a reset, a timeout for
// silence): with resume on, the session waits resumeWindowMs for its resume and the loss is
// handled within resumeWindowMs + heartbeatIntervalMs of the drop (RESUME-001, RESUME-005);
// 0 when the server advertises no resume window. Every spec that waits for the events of
// such a loss adds it to its wait and to its upper bound.
func lossGrace(w client.Welcome) time.Duration {
	if w.Limits.ResumeWindowMs <= 0 {
		return 0
	}
	return time.Duration(w.Limits.ResumeWindowMs+w.Timing.HeartbeatIntervalMs) * time.Millisecond
}
