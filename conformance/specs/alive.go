package specs

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pkarena/pkarena/conformance/client"
)

// pingFrame is a client's WebSocket ping (RFC 6455 §5.5.2): FIN, opcode 9, masked, payload p
// of at most 125 bytes. conformance/client sends no pings, so the spec writes them below the
// WebSocket layer (Client.WriteWire).
func pingFrame(p []byte) []byte { return controlFrame(0x9, p) }

// pongFrame is an unsolicited pong, RFC 6455 §5.5.3's unidirectional heartbeat: opcode 10.
func pongFrame(p []byte) []byte { return controlFrame(0xA, p) }

// controlFrame is a masked client control frame of opcode with payload p (at most 125 bytes).
func controlFrame(opcode byte, p []byte) []byte {
	key := [4]byte{0x3c, 0x91, 0x5e, 0x27}
	out := append([]byte{0x80 | opcode, 0x80 | byte(len(p))}, key[:]...)
	for i, b := range p {
		out = append(out, b^key[i%4])
	}
	return out
}

// signal is one kind of client frame a connection may live on (HEART-001).
type signal struct {
	name string
	// send writes one frame of the kind on c, whose room is liveID; a failure is reported
	// with fail.
	send func(ctx context.Context, c *client.Client, liveID string, fail func(error))
}

var signals = []signal{
	{"heartbeat requests only", func(_ context.Context, c *client.Client, _ string, fail func(error)) {
		c.Go(client.ReqHeartbeat, struct{}{}, func(_ client.Frame, err error) { fail(err) })
	}},
	{"WebSocket pings only", func(ctx context.Context, c *client.Client, _ string, fail func(error)) {
		fail(c.WriteWire(ctx, pingFrame([]byte("pkarena"))))
	}},
	{"unsolicited WebSocket pongs only", func(ctx context.Context, c *client.Client, _ string, fail func(error)) {
		fail(c.WriteWire(ctx, pongFrame([]byte("pkarena"))))
	}},
	{"other requests only (fetchLiveInfo of its own room)", func(_ context.Context, c *client.Client, liveID string, fail func(error)) {
		c.Go(client.ReqFetchLiveInfo, map[string]string{"liveID": liveID}, func(_ client.Frame, err error) { fail(err) })
	}},
}

var _ = Describe("Liveness signals", Label("liveness"), func() {
	It("[HEART-001 LIVE-020] any one kind of client frame alone keeps a connection and its room past heartbeatTimeoutMs: heartbeat requests only, WebSocket pings only, unsolicited WebSocket pongs only, other requests only", func(ctx SpecContext) {
		s := newScene(ctx)

		// Each host lives on one kind of frame from the moment its room exists; an audience
		// member (with ordinary heartbeats) in each room would see the room end.
		hosts := make([]*client.Client, len(signals))
		audience := make([]*client.Client, len(signals))
		for i := range signals {
			name := fmt.Sprint("h", i)
			hosts[i] = s.user(name, func(cfg *client.Config) { cfg.NoHeartbeat = true })
			_, err := hosts[i].CreateLive(s.ctx, client.CreateLiveRequest{LiveID: s.room(name)})
			Expect(err).NotTo(HaveOccurred())
			audience[i] = s.audience(fmt.Sprint("a", i), s.room(name))
		}
		w := s.welcome()
		timeout := time.Duration(w.Timing.HeartbeatTimeoutMs) * time.Millisecond
		every := time.Duration(w.Timing.HeartbeatIntervalMs) * time.Millisecond / 2 // twice as often as asked, so that the suite's own lateness does not count
		s.allow(timeout + livenessSlack)
		var mu sync.Mutex
		failures := map[string][]string{}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i, sig := range signals {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				fail := func(err error) {
					if err != nil {
						mu.Lock()
						failures[sig.name] = append(failures[sig.name], err.Error())
						mu.Unlock()
					}
				}
				tick := time.NewTicker(every)
				defer tick.Stop()
				for {
					sig.send(s.ctx, hosts[i], s.room(fmt.Sprint("h", i)), fail)
					select {
					case <-tick.C:
					case <-stop:
						return
					}
				}
			}()
		}
		DeferCleanup(func() { close(stop); wg.Wait() })

		// A silent control connection, opened after the hosts' last other frame, shows when
		// the server's liveness timer has run for all of them.
		ctl := s.user("ctl", func(cfg *client.Config) { cfg.NoHeartbeat = true })
		wctx, cancel := context.WithTimeout(s.ctx, timeout+livenessSlack+target.EventTimeout)
		defer cancel()
		Expect(ctl.WaitClosed(wctx)).To(Equal(client.CloseHeartbeatTimeout), "the silent control connection must be closed (LIVE-020)")

		for i, sig := range signals {
			_, _, closed := hosts[i].CloseCode()
			Expect(closed).To(BeFalse(), "the connection on %s was closed", sig.name)
			none(s, audience[i], client.EvLiveEnded)
			info, err := audience[i].FetchLiveInfo(s.ctx, s.room(fmt.Sprint("h", i)))
			Expect(err).NotTo(HaveOccurred(), "the room of the host on %s", sig.name)
			Expect(info.LiveOwner.UserID).To(Equal(hosts[i].UserID()))
		}
		mu.Lock()
		defer mu.Unlock()
		Expect(failures).To(BeEmpty(), "frames refused or failed, by kind")
	})
})
