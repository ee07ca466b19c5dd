package client

import (
	"context"
	"net"
	"net/http"
	"net/http/httptrace"
	"time"

	"github.com/pkarena/pkarena/internal/rxtime"
)

// arrivalKey is the context key of WithArrival's time.
type arrivalKey struct{}

// WithArrival returns a context for REST.Do (and the calls made with it) that sets *at to when
// the answer arrived: on Linux, over a connection of a transport StampConns made, the kernel's
// receive time of the answer's last bytes (of the read that brought them); else when they
// were read. *at is left alone when no answer came. It is for one call at a time.
func WithArrival(ctx context.Context, at *time.Time) context.Context {
	return context.WithValue(ctx, arrivalKey{}, at)
}

// StampConns makes the connections t dials keep the kernel's receive times of what they read
// (WithArrival's times), and returns t. It wraps t's DialContext, or its Dial, or the dialer
// t uses when it has neither; the connections of a DialTLSContext are not stamped.
func StampConns(t *http.Transport) *http.Transport {
	dial := t.DialContext
	//lint:ignore SA1019 a caller's Dial, deprecated or not, is how its transport dials
	if d := t.Dial; dial == nil && d != nil {
		dial = func(_ context.Context, network, addr string) (net.Conn, error) { return d(network, addr) }
	}
	if dial == nil {
		dial = (&net.Dialer{}).DialContext // what the Transport dials with when it has none
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return rxtime.NewConn(c), nil
	}
	return t
}

// arrivalTrace is a call's part in WithArrival: the connection its answer came on.
type arrivalTrace struct {
	at   *time.Time
	conn net.Conn
}

// traceArrival returns ctx tracing the connection of the call, and the trace, when ctx asks
// for the answer's arrival (nil: it does not).
func traceArrival(ctx context.Context) (context.Context, *arrivalTrace) {
	at, _ := ctx.Value(arrivalKey{}).(*time.Time)
	if at == nil {
		return ctx, nil
	}
	tr := &arrivalTrace{at: at}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { tr.conn = info.Conn },
	}), tr
}

// answered sets the arrival of an answer read to its end: the time its connection kept, or now.
func (tr *arrivalTrace) answered() {
	if tr == nil {
		return
	}
	c := tr.conn
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS: the connection under it
		c = tc.NetConn()
	}
	if a, ok := c.(interface{ Arrived() time.Time }); ok {
		if t := a.Arrived(); !t.IsZero() {
			*tr.at = t
			return
		}
	}
	*tr.at = time.Now()
}
