package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pkarena/pkarena/conformance/client"
)

// Against a server that takes the close frames but never answers nor closes, closeAll still
// ends: every connection said 1000, none was dropped before the shared wait was over (not
// before closeAllWait), and each is ended by then (well within a bound a busy machine keeps).
func TestCloseAllIsBoundedAgainstASilentServer(t *testing.T) {
	const n = 5
	got := make(chan int, n)
	hold := make(chan struct{})
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"welcome","seq":1,"ts":1,"payload":{"protocol":"v1","userID":"u","timing":{"heartbeatIntervalMs":60000,"heartbeatTimeoutMs":120000}}}`))
		ws.SetCloseHandler(func(code int, _ string) error { got <- code; return nil }) // no answer
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				<-hold // nor a close of the socket
				return
			}
		}
	}))
	defer srv.Close()
	defer close(hold) // before srv.Close, which waits for the handlers
	e := &engine{}
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + client.Path,
			SDKAppID: 1, Secret: "s", UserID: "u", DirectRead: true})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		e.users = append(e.users, &user{c: c})
	}
	start := time.Now()
	e.closeAll()
	took := time.Since(start)
	if took < closeAllWait || took > closeAllWait+15*time.Second {
		t.Errorf("closeAll took %v; want at least closeAllWait (%v), the server having never answered, and not much more", took, closeAllWait)
	}
	for i, u := range e.users {
		select {
		case <-u.c.Done():
		default:
			t.Errorf("connection %d still open after closeAll", i)
		}
	}
	for i := range n {
		select {
		case code := <-got:
			if code != client.CloseNormal {
				t.Errorf("the server got close code %d; want %d", code, client.CloseNormal)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the server got %d close frames of %d", i, n)
		}
	}
}
