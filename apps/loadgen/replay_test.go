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
	// The fast path reads the server's layout alike, and gives up on others.
	if seq, in, ok := fastSeq(f, mark); !ok || seq != 1234 || !in {
		t.Fatalf("fast: seq %d, in room %v, ok %v from %s", seq, in, ok, f)
	}
	if _, in, ok := fastSeq(f, []byte(`"room":"room-b",`)); !ok || in {
		t.Fatalf("fast: another room's frame counted (%v, %v)", in, ok)
	}
	for _, other := range []string{`{"type":"message","room":"room-a","id":"x","seq":5}`, `{"type":"message","id":"x","room":"room-a","seq":5x}`,
		`{"type":"message","id":"x","room":"room-a","seq":`} {
		if _, _, ok := fastSeq([]byte(other), mark); ok {
			t.Fatalf("fast path took %s", other)
		}
	}
	for _, bad := range []string{`{"type":"message","room":"room-a"}`, `{"type":"message","room":"room-a","seq":x1}`} {
		if _, _, err := messageSeq([]byte(bad), mark); err == nil {
			t.Fatalf("%s: no error", bad)
		}
	}
}

// TestFastSubscribed: the scan of a subscribed frame reads what decoding
// it does, and leaves other layouts to the decoder.
func TestFastSubscribed(t *testing.T) {
	mark := []byte(`{"type":"subscribed","room":"room-a","last_seq":`)
	for _, rec := range []bool{true, false} {
		f := protocol.Encode(protocol.Subscribed{Type: protocol.TypeSubscribed, Room: "room-a", LastSeq: 1234, Recovered: rec,
			Online: []protocol.User{{ID: "u", Username: "ann"}}})
		want, err := decodeSubscribed(f)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := fastSubscribed(f, mark); !ok || got.Room != want.Room || got.LastSeq != want.LastSeq ||
			got.Recovered != want.Recovered || got.Recovered != rec || got.LastSeq != 1234 {
			t.Fatalf("fast %+v (ok %v), decoded %+v", got, ok, want)
		}
	}
	for _, other := range []string{`{"type":"subscribed","room":"room-b","last_seq":5,"recovered":true}`,
		`{"type":"subscribed","room":"room-a","last_seq":5,"online":[],"recovered":true}`, `{"type":"subscribed","room":"room-a","last_seq":x}`} {
		if _, ok := fastSubscribed([]byte(other), mark); ok {
			t.Fatalf("fast path took %s", other)
		}
	}
}
