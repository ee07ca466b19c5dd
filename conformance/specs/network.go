package specs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/gorilla/websocket"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/rs/zerolog"

	"github.com/pkarena/pkarena/conformance/client"
)

// The network specs put an in-process Toxiproxy (a TCP proxy that injects faults) between
// some of a spec's clients and the server; the others connect directly and observe. Each
// fault is what a mobile network does to a live stream: a latency spike, a thin pipe, a reset
// connection, a path that goes dead without a FIN, a close that lingers. reference/RELIABILITY.md
// ("Network faults") states what the server promises under each.

// netProxy is an in-process Toxiproxy listening on loopback in front of the target.
type netProxy struct {
	proxy *toxiproxy.Proxy
}

// startProxy starts a proxy to the target's host:port for the spec; it stops, closing every
// connection through it, when the spec ends.
func startProxy(s *scene) *netProxy {
	GinkgoHelper()
	u, err := url.Parse(target.URL)
	Expect(err).NotTo(HaveOccurred())
	upstream := client.HostPort(u)
	zerolog.SetGlobalLevel(zerolog.Disabled) // Toxiproxy's toxics log through zerolog's global logger
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(api, "pkarena-"+s.prefix, "127.0.0.1:0", upstream)
	Expect(p.Start()).To(Succeed(), "starting Toxiproxy in front of %s", upstream)
	DeferCleanup(p.Stop)
	return &netProxy{proxy: p}
}

// via is a client option: the client dials the proxy instead of the server, and keeps the
// target's URL for its handshake (Host header, TLS server name).
func (n *netProxy) via(cfg *client.Config) {
	addr := n.proxy.Listen
	cfg.Dialer = &websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// add switches toxic name of type typ on for stream ("upstream": client to server,
// "downstream": server to client), on every connection through the proxy, open or future.
func (n *netProxy) add(name, typ, stream string, toxicity float32, attrs map[string]int64) {
	GinkgoHelper()
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "toxicity": toxicity, "attributes": attrs})
	Expect(err).NotTo(HaveOccurred())
	_, err = n.proxy.Toxics.AddToxicJson(bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred(), "adding toxic %s", body)
}

// both adds the toxic to both directions, as name+"_up" and name+"_down".
func (n *netProxy) both(name, typ string, attrs map[string]int64) {
	GinkgoHelper()
	n.add(name+"_up", typ, "upstream", 1, attrs)
	n.add(name+"_down", typ, "downstream", 1, attrs)
}

// remove switches toxic name off; what it held back is passed on.
func (n *netProxy) remove(names ...string) {
	GinkgoHelper()
	for _, name := range names {
		Expect(n.proxy.Toxics.RemoveToxic(context.Background(), name)).To(Succeed(), "removing toxic %s", name)
	}
}

// ms is d in the milliseconds Toxiproxy's attributes take.
func ms(d time.Duration) int64 { return d.Milliseconds() }

// heartbeatTiming returns the interval and timeout the server advertises.
func heartbeatTiming(w client.Welcome) (interval, timeout time.Duration) {
	return time.Duration(w.Timing.HeartbeatIntervalMs) * time.Millisecond, time.Duration(w.Timing.HeartbeatTimeoutMs) * time.Millisecond
}

// noteDelayedSlowness adds a SlowSuiteEntry to a failed spec's report when c, behind a
// toxic that delays its frames by up to delay, was dropped for silence because the machine
// running the suite sent its heartbeats late: delay fits between two heartbeats sent on time
// (interval + delay < heartbeatTimeoutMs), but not beside the widest gap c let pass. That is
// the suite's fault (as noteOwnSlowness), not the server's.
func noteDelayedSlowness(c *client.Client, delay time.Duration) {
	DeferCleanup(func() {
		if !CurrentSpecReport().Failed() {
			return
		}
		code, _, closed := c.CloseCode()
		_, gap := c.DroppedForOwnSlowness()
		interval, timeout := heartbeatTiming(c.Welcome())
		if closed && code == client.CloseHeartbeatTimeout && interval+delay < timeout && gap+delay >= timeout {
			AddReportEntry(SlowSuiteEntry, fmt.Sprintf("the suite's client %s let %v pass between two heartbeats, which with the %v of latency the spec adds exceeds the server's heartbeatTimeoutMs (%v): the machine running the suite was too busy to test these timings",
				c.UserID(), gap.Round(time.Millisecond), delay, timeout), ReportEntryVisibilityFailureOrVerbose)
		}
	})
}

// comparable is normalised with, in addition, the values of keys blanked at any depth (IDs
// and times that differ between two runs of one scene) and the fields top removed from each
// payload's top level (fields that differ between recipients, such as a seat list's liveID,
// which is the recipient's room).
func comparable(s *scene, events []client.Event, keys []string, top ...string) []string {
	GinkgoHelper()
	out := normalised(s, events)
	for i, line := range out {
		typ, payload, _ := strings.Cut(line, " ")
		var v any
		Expect(json.Unmarshal([]byte(payload), &v)).To(Succeed())
		if m, ok := v.(map[string]any); ok {
			for _, k := range top {
				delete(m, k)
			}
		}
		b, err := json.Marshal(blankKeys(v, keys))
		Expect(err).NotTo(HaveOccurred())
		out[i] = typ + " " + string(b)
	}
	return out
}

func blankKeys(v any, keys []string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if slices.Contains(keys, k) {
				x[k] = "-"
				continue
			}
			x[k] = blankKeys(val, keys)
		}
	case []any:
		for i := range x {
			x[i] = blankKeys(x[i], keys)
		}
	}
	return v
}

// battleKeys differ between two runs of one battle scene.
var battleKeys = []string{"battleID", "startTime", "endTime"}

// toggleSeat locks seat index of c's room when n is even and unlocks it when n is odd.
func toggleSeat(ctx context.Context, c *client.Client, index, n int) error {
	if n%2 == 0 {
		return c.LockSeat(ctx, index)
	}
	return c.UnlockSeat(ctx, index)
}

// quantile returns the q-quantile (0–1) of d.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[int(q*float64(len(d)-1))]
}

// buildBattleLoss: hosts a and b connected and in a battle, audiences aa and ba. b, dialed
// with opts, leaves; ba, in b's room, is the last observer.
func buildBattleLoss(s *scene, opts ...func(*client.Config)) lossWorld {
	GinkgoHelper()
	a := s.host("a")
	b := s.user("b", opts...)
	_, err := b.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("b"), LiveName: "room of b"})
	Expect(err).NotTo(HaveOccurred())
	battleWelcome(s)
	aa, ba := s.audience("aa", s.room("a")), s.audience("ba", s.room("b"))
	connect(s, a, b)
	startBattle(s, 300, a, []*client.Client{b}, aa, ba)
	obs := []*client.Client{a, aa, ba}
	settle(s, append(obs, b)...)
	return lossWorld{leaver: b, observers: obs}
}

// buildSeatedLoss: rooms a and b connected, audience aa (dialed with opts) seated with its
// microphone on in a, audience ba in b. aa leaves.
func buildSeatedLoss(s *scene, opts ...func(*client.Config)) lossWorld {
	GinkgoHelper()
	a, b := s.host("a"), s.host("b")
	aa := s.user("aa", opts...)
	_, err := aa.JoinLive(s.ctx, s.room("a"))
	Expect(err).NotTo(HaveOccurred())
	ba := s.audience("ba", s.room("b"))
	connect(s, a, b)
	Expect(aa.TakeSeat(s.ctx, 2)).To(Succeed())
	Expect(aa.UnmuteMicrophone(s.ctx)).To(Succeed())
	obs := []*client.Client{a, b, ba}
	settle(s, append(obs, aa)...)
	return lossWorld{leaver: aa, observers: obs}
}

// netFault is one way the network loses a member.
type netFault struct {
	// prepare sets the proxy up before the leaver connects.
	prepare func(s *scene, n *netProxy)
	// strike makes the fault happen to the leaver c.
	strike func(s *scene, n *netProxy, c *client.Client)
	// silent: the server hears nothing more and must wait for heartbeatTimeoutMs (LIVE-020).
	silent bool
	// leaverCode is how the leaver's own connection ends; reset also wants "reset" in its text.
	leaverCode int
	reset      bool
	// after runs once the observers have the events of the loss.
	after func(s *scene, w lossWorld, struck time.Time)
}

// slowCloseDelay is how long the slow-close fault holds each direction's close back: longer
// than the LIVE-022 bound the spec checks (heartbeatTimeoutMs plus livenessSlack), so that a
// server that waits for the TCP close before it lets the member go is late.
func slowCloseDelay(w client.Welcome) time.Duration {
	_, timeout := heartbeatTiming(w)
	return timeout + 2*livenessSlack
}

var (
	// resetPeer resets the leaver's connection: the server gets a TCP RST.
	resetPeer = netFault{
		prepare: func(s *scene, n *netProxy) {
			// Toxiproxy resets a connection only if it was opened while a reset_peer toxic
			// existed (it sets SO_LINGER 0 on its sockets as it opens them): one that never
			// fires (toxicity 0) is there from the start.
			n.add("linger", "reset_peer", "upstream", 0, map[string]int64{"timeout": 0})
		},
		strike: func(s *scene, n *netProxy, c *client.Client) {
			n.add("reset", "reset_peer", "upstream", 1, map[string]int64{"timeout": 0})
			// The reset fires on the next frame the client sends.
			c.Go(client.ReqHeartbeat, nil, func(client.Frame, error) {})
		},
		leaverCode: client.CloseAbnormal, reset: true,
	}
	// blackhole drops everything both ways and never closes: a half-open connection whose
	// client still sends heartbeats into the void.
	blackhole = netFault{
		strike: func(s *scene, n *netProxy, c *client.Client) {
			n.both("blackhole", "timeout", map[string]int64{"timeout": 0})
		},
		silent: true, leaverCode: client.CloseAbnormal,
	}
	// slowClose: the leaver closes cleanly, and the network holds each direction's TCP close
	// back for slowCloseDelay.
	slowClose = netFault{
		prepare: func(s *scene, n *netProxy) {
			n.both("slow_close", "slow_close", map[string]int64{"delay": ms(slowCloseDelay(s.welcome()))})
		},
		strike:     func(s *scene, n *netProxy, c *client.Client) { c.Close() },
		leaverCode: client.CloseNormal,
		after:      rejoinWhileOldCloses,
	}
)

// rejoinWhileOldCloses connects the leaver's user again, on a clean network, rejoins its room
// and seat, and checks that nothing happens to the new connection or to anyone when the old
// connection's TCP close finally goes through.
func rejoinWhileOldCloses(s *scene, w lossWorld, struck time.Time) {
	GinkgoHelper()
	name := strings.TrimPrefix(w.leaver.UserID(), s.prefix+"-")
	again := s.user(name)
	_, err := again.JoinLive(s.ctx, s.room("a"))
	Expect(err).NotTo(HaveOccurred(), "%s joins again while its old connection's close lingers", name)
	Expect(again.TakeSeat(s.ctx, 2)).To(Succeed())
	settle(s, append(w.observers, again)...)
	until := struck.Add(slowCloseDelay(s.welcome()) + 300*time.Millisecond)
	s.allow(time.Until(until))
	Consistently(s.ctx, func() bool {
		_, _, closed := again.CloseCode()
		return closed
	}).WithTimeout(time.Until(until)).WithPolling(50*time.Millisecond).Should(BeFalse(),
		"the new connection stays open when the old one's TCP close goes through")
	for _, c := range append(w.observers, again) {
		none(s, c)
	}
	a := w.observers[0]
	info, err := a.FetchLiveInfo(s.ctx, s.room("a"))
	Expect(err).NotTo(HaveOccurred())
	Expect(info.CurrentUserCount).To(Equal(2), "room a holds its host and the user who came back")
}

var _ = Describe("Network faults", Label("network"), func() {
	It("[LIVE-020 TRANS-005 TRANS-008] a latency spike shorter than heartbeatTimeoutMs − heartbeatIntervalMs loses nothing: the members behind it keep their connections past heartbeatTimeoutMs and get every frame once, in order, as a member on a clean network does", Label("transport"), func(ctx SpecContext) {
		s := newScene(ctx)
		np := startProxy(s)
		h := s.host("h")
		g := s.user("g", np.via)
		_, err := g.CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room("g"), LiveName: "room of g"})
		Expect(err).NotTo(HaveOccurred())
		connect(s, h, g)
		d := s.audience("d", s.room("h"))
		v := s.user("v", np.via)
		_, err = v.JoinLive(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		settle(s, h, g, d, v)

		interval, timeout := heartbeatTiming(s.welcome())
		spike, jitter := (timeout-interval)/2, (timeout-interval)/10
		hold := timeout + interval // the spike spans a whole heartbeat timeout
		s.allow(hold + 4*spike)
		noteDelayedSlowness(g, spike+jitter)
		noteDelayedSlowness(v, spike+jitter)

		np.both("latency", "latency", map[string]int64{"latency": ms(spike), "jitter": ms(jitter)})
		start := time.Now()
		// g, behind the spike, changes a seat as fast as its delayed replies let it; h, on a
		// clean network, every 20 ms.
		gDone := make(chan int, 1)
		go func() {
			defer GinkgoRecover()
			n := 0
			for ; time.Since(start) < hold; n++ {
				Expect(toggleSeat(s.ctx, g, 6, n)).To(Succeed(), "g changes a seat through the spike")
			}
			gDone <- n
		}()
		hN := 0
		tick := time.NewTicker(20 * time.Millisecond)
		for ; time.Since(start) < hold; hN++ {
			Expect(toggleSeat(s.ctx, h, 5, hN)).To(Succeed())
			<-tick.C
		}
		tick.Stop()
		gN := <-gDone
		np.remove("latency_up", "latency_down")

		for _, c := range []*client.Client{h, g, d, v} {
			Expect(c.Sync(s.ctx)).To(Succeed(), "%s is still connected after the spike", c.UserID())
		}
		want := d.Unread(client.EvSeatListChanged)
		Expect(want).To(HaveLen(hN+gN), "the member on a clean network got one seat list a change")
		// Each seat list names its recipient's room at the top: v is in d's room, h and g are not.
		Expect(normalised(s, v.Unread(client.EvSeatListChanged))).To(Equal(normalised(s, want)),
			"v got the seat lists the member on a clean network got, in the same order")
		for _, c := range []*client.Client{h, g} {
			Expect(comparable(s, c.Unread(client.EvSeatListChanged), nil, "liveID")).To(Equal(comparable(s, want, nil, "liveID")),
				"%s got the seat lists the member on a clean network got, in the same order", c.UserID())
		}
		for _, c := range []*client.Client{g, v} {
			_, _, closed := c.CloseCode()
			Expect(closed).To(BeFalse(), "%s kept its connection", c.UserID())
		}
		// The spike did delay v: the proxy really was in the way.
		var lag []time.Duration
		for i, e := range v.Unread(client.EvSeatListChanged) {
			lag = append(lag, e.At.Sub(want[i].At))
		}
		Expect(quantile(lag, .5)).To(BeNumerically(">=", spike/2), "the frames to v were delayed by the spike")
		AddReportEntry("latency spike", fmt.Sprintf("%v ± %v each way for %v (heartbeatIntervalMs %v, heartbeatTimeoutMs %v): %d + %d seat changes, all delivered in order; v's lag behind the clean member p50 %v, max %v",
			spike, jitter, hold, interval, timeout, hN, gN, quantile(lag, .5).Round(time.Millisecond), quantile(lag, 1).Round(time.Millisecond)))
	})

	It("[CLOSE-001 LIVE-021 TRANS-005] a member whose downstream bandwidth is below the rate of its frames gets every frame once, in order, late, or is cut off (4008) and counts as lost; the other members get every frame without delay", Label("slow"), func(ctx SpecContext) {
		s := newScene(ctx)
		np := startProxy(s)
		h := s.host("h")
		d := s.audience("d", s.room("h"))
		v := s.user("v", np.via)
		_, err := v.JoinLive(s.ctx, s.room("h"))
		Expect(err).NotTo(HaveOccurred())
		settle(s, h, d, v)

		n := 0
		var seen []client.Event // the seat lists d got
		change := func() time.Duration {
			start := time.Now()
			Expect(toggleSeat(s.ctx, h, 5, n)).To(Succeed())
			n++
			ev, err := d.Next(s.ctx, client.EvSeatListChanged)
			Expect(err).NotTo(HaveOccurred())
			seen = append(seen, ev)
			return ev.At.Sub(start)
		}
		const changes = 200
		var before, during []time.Duration
		b0 := d.Bytes()
		for range changes {
			before = append(before, change())
		}
		perChange := (d.Bytes() - b0) / changes
		settle(s, h, d, v)
		seen = nil

		// A change every 5 ms for a second: about 270 KB/s of seat lists into 8 KB/s.
		const rateKBps = 8
		np.add("bandwidth", "bandwidth", "downstream", 1, map[string]int64{"rate": rateKBps})
		throttled := time.Now()
		tick := time.NewTicker(5 * time.Millisecond)
		for range changes {
			during = append(during, change())
			<-tick.C
		}
		tick.Stop()
		flood := time.Since(throttled)
		got := len(v.Unread(client.EvSeatListChanged))
		Expect(got).To(BeNumerically("<", changes/2), "the %d KB/s limit held v back (%d bytes a change)", rateKBps, perChange)
		np.remove("bandwidth")
		released := time.Now()

		// Everyone else got every frame without delay: a quarter of a second over the
		// baseline is far above a busy machine's noise (as for a stalled reader, CLOSE-001).
		Expect(quantile(during, .99)).To(BeNumerically("<", quantile(before, .99)+250*time.Millisecond),
			"p99 delivery to the member on a clean network rose from %v to %v while v's bandwidth was limited", quantile(before, .99), quantile(during, .99))
		none(s, d, client.EvSeatListChanged)
		want := normalised(s, seen)

		outcome := ""
		if err := v.Sync(s.ctx); err == nil {
			Expect(normalised(s, v.Unread(client.EvSeatListChanged))).To(Equal(want), "v got every seat list, once, in order")
			outcome = fmt.Sprintf("all %d frames delivered in order, the last %v after the limit was lifted", changes, v.Events()[len(v.Events())-1].At.Sub(released).Round(time.Millisecond))
		} else {
			code, text, closed := v.CloseCode()
			Expect(closed).To(BeTrue(), "v is either connected or cut off: %v", err)
			Expect(code).To(BeElementOf(client.CloseSlowConsumer, client.CloseAbnormal), "v was cut off: close %d %q", code, text)
			gotList := normalised(s, v.Unread(client.EvSeatListChanged))
			Expect(want[:len(gotList)]).To(Equal(gotList), "what v got before the cut-off is a prefix of every seat list, in order")
			Eventually(s.ctx, func() int {
				info, err := h.FetchLiveInfo(s.ctx, s.room("h"))
				Expect(err).NotTo(HaveOccurred())
				return info.CurrentUserCount
			}).WithTimeout(target.EventTimeout).Should(Equal(2), "the cut-off member left the room (LIVE-021)")
			outcome = fmt.Sprintf("cut off with %d after %d of %d frames", code, len(gotList), changes)
		}
		AddReportEntry("bandwidth limit", fmt.Sprintf("%d KB/s to v, %d seat changes of %d bytes in %v: %d reached v during the flood; %s; the clean member's delivery p99 %v before, %v during",
			rateKBps, changes, perChange, flood.Round(time.Millisecond), got, outcome, quantile(before, .99).Round(time.Microsecond), quantile(during, .99).Round(time.Microsecond)))
	})

	DescribeTable("[LIVE-021 LIVE-022] a member the network loses is treated as lost, no later than heartbeatTimeoutMs after its last frame arrived: everyone else gets exactly the events of the clean exit", Label("liveness"),
		func(ctx SpecContext, build func(*scene, ...func(*client.Config)) lossWorld, clean func(*scene, *client.Client) error, roomEnds bool, f netFault) {
			// The clean run, on a clean network, is the oracle.
			s1 := newScene(ctx)
			w1 := build(s1)
			Expect(clean(s1, w1.leaver)).To(Succeed())
			want := make([][]string, len(w1.observers))
			for i, o := range w1.observers {
				Expect(o.Sync(s1.ctx)).To(Succeed())
				want[i] = comparable(s1, o.Unread(""), battleKeys)
			}
			Expect(want).To(ContainElement(Not(BeEmpty())), "the clean exit produces events")

			s := newScene(ctx)
			np := startProxy(s)
			if f.prepare != nil {
				// The scene's first user, for the welcome, before the proxy is set up.
				s.user("first")
				f.prepare(s, np)
			}
			w := build(s, np.via)
			_, timeout := heartbeatTiming(s.welcome())
			// A session whose connection dropped without a close handshake waits for its
			// resume before it is lost (RESUME-005); a clean close ends it at once.
			grace := time.Duration(0)
			if f.leaverCode != client.CloseNormal {
				grace = lossGrace(s.welcome())
			}
			s.allow(2*timeout + grace + slowCloseDelay(s.welcome()))
			before := make([]int, len(w.observers))
			for i, o := range w.observers {
				before[i] = len(o.Events())
			}
			lastFrame := time.Now()
			Expect(w.leaver.Sync(s.ctx)).To(Succeed()) // the server read a frame of the leaver after lastFrame
			striking := time.Now()
			f.strike(s, np, w.leaver)
			struck := time.Now() // the server reads nothing of the leaver sent after this

			var heard time.Duration
			for i, o := range w.observers {
				wctx, cancel := context.WithTimeout(s.ctx, timeout+grace+livenessSlack+target.EventTimeout)
				err := o.WaitFor(wctx, func(evs []client.Event) bool { return len(evs) >= before[i]+len(want[i]) })
				cancel()
				Expect(err).NotTo(HaveOccurred(), "%s: waiting for the %d events of the clean exit", o.UserID(), len(want[i]))
				if len(want[i]) == 0 {
					continue // nothing to hear: what it got is compared with the clean exit's below
				}
				Expect(len(o.Events())).To(BeNumerically(">", before[i]), "%s: the events of the clean exit", o.UserID())
				first := o.Events()[before[i]].At
				Expect(first.Sub(struck)).To(BeNumerically("<=", timeout+grace+livenessSlack),
					"%s heard of the loss %v after the fault; heartbeatTimeoutMs is %v, and the resume window with a heartbeat interval %v (LIVE-022, RESUME-005)", o.UserID(), first.Sub(struck), timeout, grace)
				if f.silent {
					Expect(first.Sub(lastFrame)).To(BeNumerically(">=", timeout-timerSlack),
						"%s heard of the loss %v after the leaver's last frame, before heartbeatTimeoutMs %v (LIVE-020)", o.UserID(), first.Sub(lastFrame), timeout)
				}
				heard = max(heard, first.Sub(striking))
				Expect(o.Sync(s.ctx)).To(Succeed())
				Expect(comparable(s, o.Unread(""), battleKeys)).To(Equal(want[i]), "observer %d (%s)", i, o.UserID())
				for _, e := range o.EventsOf(client.EvLiveEnded) {
					var p client.LiveEnded
					Expect(e.Decode(&p)).To(Succeed())
					Expect(p.Reason).To(Equal(client.EndedByServer), "onLiveEnded reason after a lost host connection")
				}
			}
			if roomEnds {
				// The last observer is in the lost host's room: its room ended (ROOM-007).
				ba := w.observers[len(w.observers)-1]
				Expect(ba.EventsOf(client.EvLiveEnded)).To(HaveLen(1), "%s heard its room end", ba.UserID())
			}
			// The server closed the connection (LIVE-020: a timed-out connection is closed);
			// the leaver sees how the network passed that on.
			wctx, cancel := context.WithTimeout(s.ctx, timeout+livenessSlack+target.EventTimeout)
			defer cancel()
			code, err := w.leaver.WaitClosed(wctx)
			Expect(err).NotTo(HaveOccurred(), "the server closed the lost connection")
			_, text, _ := w.leaver.CloseCode()
			Expect(code).To(Equal(f.leaverCode), "the leaver's connection ended: %q", text)
			if f.reset {
				Expect(text).To(ContainSubstring("reset"), "the proxy reset the connection")
			}
			AddReportEntry("loss heard", fmt.Sprintf("the observers heard of the loss at most %v after the fault (heartbeatTimeoutMs %v); the leaver's connection ended with %d %q",
				heard.Round(100*time.Microsecond), timeout, code, text))
			if f.after != nil {
				f.after(s, w, struck)
			}
		},
		Entry("a host in a battle whose connection is reset (TCP RST) [BATTLE-023 ROOM-007]", buildBattleLoss,
			func(s *scene, c *client.Client) error { return c.EndLive(s.ctx) }, true, resetPeer),
		Entry("a host in a battle whose network goes dead, half-open: no FIN, no RST, its heartbeats dropped [LIVE-020 BATTLE-023 ROOM-007 FAULT-003]", buildBattleLoss,
			func(s *scene, c *client.Client) error { return c.EndLive(s.ctx) }, true, blackhole),
		Entry("a seated audience member who closes its connection while the network holds the TCP close back (slow close); its user comes back at once, undisturbed when the old close goes through [SEAT-009]", buildSeatedLoss,
			func(s *scene, c *client.Client) error { return c.LeaveLive(s.ctx) }, false, slowClose),
	)
})
