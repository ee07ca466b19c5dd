package wsread

import (
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// TestReaderSeesTheEndBehindTheData: a frame and the end of the stream arriving together
// wake the netpoller once; the reader must read past the frame to the end (close 1006)
// rather than wait after a read that left room in its buffer. The server sends the second
// frame and ends its side while the reader is still in the handler of the first.
func TestReaderSeesTheEndBehindTheData(t *testing.T) {
	inHandler, sent := make(chan struct{}), make(chan struct{})
	srv := wsServer(func(ws *websocket.Conn, r *http.Request) {
		conn := ws.NetConn().(*net.TCPConn)
		_, _ = conn.Write(text("first"))
		<-inHandler
		_, _ = conn.Write(text("second"))
		_ = conn.CloseWrite()
		close(sent)
		_, _ = io.Copy(io.Discard, conn)
	})
	defer srv.Close()
	ws, r := dialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer ws.Close()
	hung := time.AfterFunc(10*time.Second, func() { ws.Close() })
	var msgs []string
	err := r.Run(func(_ int, data []byte) bool {
		if msgs = append(msgs, string(data)); len(msgs) == 1 {
			close(inHandler)
			<-sent
			waitFIN(t, r.conn)
		}
		return true
	})
	if !hung.Stop() {
		t.Fatal("Run did not return within 10 s of the end of the stream")
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseAbnormalClosure || !reflect.DeepEqual(msgs, []string{"first", "second"}) {
		t.Errorf("Run: %v with %q; want close 1006 after both frames", err, msgs)
	}
}

// waitFIN waits (at most 10 s) until conn's socket has received its peer's FIN (the
// connection is in CLOSE_WAIT).
func waitFIN(t *testing.T, conn net.Conn) {
	sc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		var state uint8
		_ = sc.Control(func(fd uintptr) {
			if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				state = info.State
			}
		})
		if state == tcpCloseWait {
			return
		}
	}
	t.Fatal("the FIN did not arrive within 10 s")
}

// tcpCloseWait is TCP_CLOSE_WAIT of the kernel's tcp_states.h.
const tcpCloseWait = 8
