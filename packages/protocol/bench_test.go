package protocol

import (
	"strings"
	"testing"
)

func BenchmarkDecodeSendFrame(b *testing.B) {
	frame := []byte(`{"type":"send","room":"01a20d13-3826-7d33-b6fa-a650745d8ed1","ref":"p3-1234","body":"` +
		strings.Repeat("hello world ", 10) + `"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeClientFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeMessageOnce is the per-message encoding cost: done once per
// message per server, whatever the number of subscribers.
func BenchmarkEncodeMessageOnce(b *testing.B) {
	m := MessageFrame{Type: TypeMessage, Message: Message{ID: "01a20d13-3a01-71e2-a8da-88cbf775b634",
		Room: "01a20d13-3826-7d33-b6fa-a650745d8ed1", Seq: 123456, Sender: User{ID: "01a20d13-37d2-7f3c-bf01-4e74fe8a83b6", Username: "alice"},
		Body: strings.Repeat("hello world ", 10), TS: "2026-11-24T10:21:33.569124Z", Ref: "p3-1234"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = Encode(m)
	}
}
