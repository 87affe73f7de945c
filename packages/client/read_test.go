package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// replayServer answers every subscribe with n message frames and then
// subscribed, as a server resuming a subscriber that missed n messages.
func replayServer(tb testing.TB, n int) *httptest.Server {
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = protocol.EncodeMessage(protocol.Message{ID: fmt.Sprintf("0193a4c2-7e1f-7b3a-9d2e-%012d", i),
			Room: "room-1", Seq: int64(i + 1), Sender: protocol.User{ID: "user-1", Username: "ann"},
			Body: fmt.Sprintf("message %d of the replay, about as long as a chat line", i), TS: protocol.FormatTime(time.Now()),
			Ref: fmt.Sprintf("ref-%d", i)})
	}
	subscribed := protocol.Encode(protocol.Subscribed{Type: protocol.TypeSubscribed, Room: "room-1", LastSeq: int64(n)})
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
			for _, f := range frames {
				if err := ws.WriteMessage(websocket.TextMessage, f); err != nil {
					return
				}
			}
			if err := ws.WriteMessage(websocket.TextMessage, subscribed); err != nil {
				return
			}
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func dialReplay(tb testing.TB, srv *httptest.Server) *Conn {
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ws.Close() })
	return &Conn{ws: ws}
}

// BenchmarkSubscribeReplay is a resuming client's side: 1,000 replayed
// messages read and decoded per op.
func BenchmarkSubscribeReplay(b *testing.B) {
	c := dialReplay(b, replayServer(b, 1000))
	after := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		replay, _, err := c.Subscribe(context.Background(), "room-1", &after)
		if err != nil || len(replay) != 1000 {
			b.Fatalf("%d replayed: %v", len(replay), err)
		}
	}
}
