package main

import (
	"testing"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// TestMessageSeq: the resume scenario's scan reads a message frame's own
// seq and room, as the server encodes them, whatever the body says.
func TestMessageSeq(t *testing.T) {
	mark := []byte(`"room":"room-a",`)
	reply := "0193a4c2-0000-7000-8000-000000000001"
	f := protocol.EncodeMessage(protocol.Message{ID: "0193a4c2-0000-7000-8000-000000000002", Room: "room-a", Seq: 1234,
		Sender: protocol.User{ID: "u", Username: "ann"}, Body: `"seq":7, "room":"room-b",`, TS: "2026-11-30T00:00:00.000Z",
		Ref: "r", ReplyTo: &reply, Reactions: protocol.Reactions{{Emoji: "👍", Count: 2}}})
	if seq, in, err := messageSeq(f, mark); err != nil || seq != 1234 || !in {
		t.Fatalf("got seq %d, in room %v, %v from %s", seq, in, err, f)
	}
	if _, in, err := messageSeq(f, []byte(`"room":"room-b",`)); err != nil || in {
		t.Fatalf("another room's frame counted (%v, %v)", in, err)
	}
	for _, bad := range []string{`{"type":"message","room":"room-a"}`, `{"type":"message","room":"room-a","seq":x1}`} {
		if _, _, err := messageSeq([]byte(bad), mark); err == nil {
			t.Fatalf("%s: no error", bad)
		}
	}
}
