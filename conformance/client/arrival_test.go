package client

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/internal/tcptest"
)

// answerOK is a REST answer of Content-Length answerOK's length.
const answerOK = `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","RequestId":"r","Response":{}}`

// WithArrival is told when the answer arrived, on any client (without StampConns: when it was
// read); a call without it, or one that got no answer, leaves the time alone.
func TestWithArrival(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, answerOK)
	}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		name   string
		client *http.Client
	}{
		{"plain client", nil},
		{"StampConns", &http.Client{Transport: StampConns(&http.Transport{})}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rest := NewREST(RESTConfig{BaseURL: srv.URL, SDKAppID: 1, Secret: "s", Identifier: "admin", HTTPClient: tt.client})
			var at time.Time
			for i := 0; i < 3; i++ { // a new connection, then one kept alive
				before := time.Now()
				if _, _, err := rest.Do(WithArrival(context.Background(), &at), http.MethodPost, APIGetBattleInfo, nil, []byte("{}")); err != nil {
					t.Fatal(err)
				}
				if at.Before(before) || at.After(time.Now()) {
					t.Errorf("call %d: arrived %v; want between the call (%v) and now", i, at.Format(time.RFC3339Nano), before.Format(time.RFC3339Nano))
				}
			}
			kept := at
			if _, _, err := rest.Do(context.Background(), http.MethodPost, APIGetBattleInfo, nil, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, _, err := rest.Do(WithArrival(ctx, &at), http.MethodPost, APIGetBattleInfo, nil, []byte("{}")); err == nil {
				t.Fatal("a call with a cancelled context got an answer")
			}
			if !at.Equal(kept) {
				t.Errorf("calls with no WithArrival or no answer moved the time to %v", at)
			}
		})
	}
}

// lateConn holds its connection's first read until the answer has been written and has
// waited a millisecond in the socket.
type lateConn struct {
	net.Conn // the *rxtime.Conn StampConns dialled
	written  <-chan [2]time.Time
	mu       sync.Mutex
	w        [2]time.Time // the answer's write, once the first read has had it
	held     bool
}

func (c *lateConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if !c.held {
		c.held = true
		c.w = <-c.written
		for !time.Now().After(c.w[1].Add(time.Millisecond)) {
		}
	}
	c.mu.Unlock()
	return c.Conn.Read(b)
}

func (c *lateConn) write() [2]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w
}

// Arrived is the stamped connection's: the trace finds it through the wrapper.
func (c *lateConn) Arrived() time.Time { return c.Conn.(interface{ Arrived() time.Time }).Arrived() }

// StampConns dials as the transport did — through its DialContext, its (deprecated) Dial,
// or a plain dialer when it has neither — and every connection keeps its arrival times.
func TestStampConnsKeepsTheTransportsDialer(t *testing.T) {
	addr := tcptest.Serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	for _, tt := range []struct {
		name  string
		setUp func(tr *http.Transport, dialed *int)
		calls int // of the transport's own dialer
	}{
		{"DialContext", func(tr *http.Transport, dialed *int) {
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				*dialed++
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}
		}, 1},
		{"Dial", func(tr *http.Transport, dialed *int) {
			//lint:ignore SA1019 the deprecated field is what is tested
			tr.Dial = func(network, addr string) (net.Conn, error) {
				*dialed++
				return net.Dial(network, addr)
			}
		}, 1},
		{"neither", func(*http.Transport, *int) {}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr, dialed := &http.Transport{}, 0
			tt.setUp(tr, &dialed)
			c, err := StampConns(tr).DialContext(context.Background(), "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, ok := c.(interface{ Arrived() time.Time }); !ok {
				t.Errorf("dialed %T; want a connection that keeps its arrival times", c)
			}
			if dialed != tt.calls {
				t.Errorf("the transport's own dialer called %d times; want %d", dialed, tt.calls)
			}
		})
	}
}

// Over a StampConns transport, an answer read late arrived when it reached the machine (the
// kernel's receive time), not when it was read. The server writes each answer in one write
// and closes only after the client (a FIN that came before the read would lend the answer its
// time: the kernel merges the two).
func TestStampConnsAnswerArrivesWhenReceived(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's receive times are read on Linux only")
	}
	written := make(chan [2]time.Time, 1)
	addr := tcptest.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		answer := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + itoa(uint64(len(answerOK))) + "\r\n\r\n" + answerOK
		before := time.Now()
		_, _ = io.WriteString(c, answer)
		written <- [2]time.Time{before, time.Now()}
		_, _ = io.Copy(io.Discard, br) // until the client closes
	})
	var last atomic.Pointer[lateConn]
	tr := StampConns(&http.Transport{DisableKeepAlives: true}) // a connection (and a held first read) a call
	stamped := tr.DialContext
	// The kernel stops stamping once no socket asks, and starts again a little after one
	// does: a connection kept open meanwhile keeps the times on between the calls'.
	keep, err := stamped(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := stamped(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		lc := &lateConn{Conn: c, written: written}
		last.Store(lc)
		return lc, nil
	}
	rest := NewREST(RESTConfig{BaseURL: "http://" + addr, SDKAppID: 1, Secret: "s", Identifier: "admin", HTTPClient: &http.Client{Transport: tr}})
	call := func() (at time.Time, w [2]time.Time) {
		if _, _, err := rest.Do(WithArrival(context.Background(), &at), http.MethodPost, APIGetBattleInfo, nil, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		return at, last.Load().write()
	}
	tcptest.ArrivesWithinWrite(t, call)
}

// A frame read late arrived when it reached the machine (the kernel's receive time), not when
// it was read, however the client reads it: gorilla or internal/wsread over ws://, gorilla
// under TLS over wss:// (where DirectRead does not apply). The client's OnEvent holds the
// reader on one frame while the server writes the next, which waits in the socket. The
// welcome arrived within the Dial.
func TestFramesArriveWhenReceived(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's receive times are read on Linux only")
	}
	for _, tt := range []struct {
		name   string
		tls    bool
		direct bool
	}{
		{"ws, gorilla reading", false, false},
		{"ws, read directly", false, true},
		{"wss", true, false},
		{"wss, DirectRead asked", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			quit := make(chan struct{})
			held := make(chan struct{})        // the client's reader holds a frame
			release := make(chan struct{})     // lets it go
			written := make(chan [2]time.Time) // the next frame's write
			marks := make(chan time.Time, 1)   // its At
			again := make(chan struct{})       // it was read: the next round
			sc := func(ws *websocket.Conn, send func(string, uint64, string, string)) {
				for {
					send("test_hold", 0, "", `{}`)
					select {
					case <-held:
					case <-quit:
						return
					}
					before := time.Now()
					send("test_mark", 0, "", `{}`)
					select {
					case written <- [2]time.Time{before, time.Now()}:
					case <-quit:
						return
					}
					// Nothing more until the mark is read: bytes read with it would lend it
					// their later time.
					select {
					case <-again:
					case <-quit:
						return
					}
				}
			}
			cfg := Config{SDKAppID: 1, Secret: "s", UserID: "u", NoHeartbeat: true, DirectRead: tt.direct,
				OnEvent: func(f Frame) {
					switch f.Type {
					case "test_hold":
						select {
						case held <- struct{}{}:
						case <-quit:
							return
						}
						select {
						case <-release:
						case <-quit:
						}
					case "test_mark":
						marks <- f.At
					}
				}}
			if tt.tls {
				cfg.URL, cfg.TLS = fakeServerTLS(t, sc)
			} else {
				cfg.URL = fakeServer(t, sc)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			dialed := time.Now()
			c, err := Dial(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			defer close(quit)
			if at, now := c.WelcomeAt(), time.Now(); at.Before(dialed) || at.After(now) {
				t.Errorf("WelcomeAt %v; want within the Dial, %v–%v", at, dialed, now)
			}
			tcptest.ArrivesWithinWrite(t, func() (time.Time, [2]time.Time) {
				w := <-written
				release <- struct{}{} // the mark is in the socket: read it now
				at := <-marks
				again <- struct{}{}
				return at, w
			})
		})
	}
}
