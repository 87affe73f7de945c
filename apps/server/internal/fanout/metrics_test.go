package fanout

import (
	"testing"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

func TestFrameTime(t *testing.T) {
	at := time.Date(2026, 11, 29, 21, 0, 0, 123456000, time.UTC)
	m := protocol.Message{ID: "m", Room: "r", Seq: 7, Sender: protocol.User{ID: "u", Username: "alice"},
		Body: `a body with "ts":"2001-01-01T00:00:00Z" in it`, TS: protocol.FormatTime(at), Ref: "x"}
	got, ok := frameTime(protocol.EncodeMessage(m))
	if !ok || !got.Equal(at) {
		t.Errorf("frameTime = %v, %v; want %v", got, ok, at)
	}
	if _, ok := frameTime([]byte(`{"type":"typing","room":"r"}`)); ok {
		t.Error("a frame without ts has a time")
	}
}
