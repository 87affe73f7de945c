package protocol

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestReplayFrames(t *testing.T) {
	var frames [][]byte
	for i := range 300 {
		m := Message{ID: "m", Room: "r\"1", Seq: int64(i + 1), Body: strings.Repeat("x", i%7*100)}
		frames = append(frames, EncodeMessage(m))
	}
	big := EncodeMessage(Message{ID: "big", Room: "r\"1", Seq: 301, Body: strings.Repeat("y", 5000)})
	frames = append(frames, big)
	const limit = 4096
	out := ReplayFrames(`r"1`, frames, limit)
	if len(out) < 2 {
		t.Fatalf("%d replay frames for %d frames over %d bytes", len(out), len(frames), limit)
	}
	var got [][]byte
	for i, b := range out {
		if len(b) > limit && !bytes.Contains(b, big) {
			t.Fatalf("replay frame %d is %d bytes, over the limit %d", i, len(b), limit)
		}
		var r struct {
			Type   string            `json:"type"`
			Room   string            `json:"room"`
			Frames []json.RawMessage `json:"frames"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("replay frame %d: %v: %.200s", i, err, b)
		}
		if r.Type != TypeReplay || r.Room != `r"1` || len(r.Frames) == 0 {
			t.Fatalf("replay frame %d: type %q room %q, %d frames", i, r.Type, r.Room, len(r.Frames))
		}
		for _, f := range r.Frames {
			got = append(got, f)
		}
	}
	if len(got) != len(frames) {
		t.Fatalf("%d frames back, want %d", len(got), len(frames))
	}
	for i := range frames {
		if !bytes.Equal(got[i], frames[i]) {
			t.Fatalf("frame %d changed: %.100s, want %.100s", i, got[i], frames[i])
		}
	}
	if ReplayFrames("r", nil, limit) != nil {
		t.Fatal("replay frames for no frames")
	}
}

func BenchmarkReplayFrames(b *testing.B) {
	frames := make([][]byte, 1000)
	for i := range frames {
		frames[i] = EncodeMessage(Message{ID: "0193a5c2-7d1e-7000-8000-000000000000", Room: "room", Seq: int64(i + 1), Body: "missed"})
	}
	b.ReportAllocs()
	for b.Loop() {
		ReplayFrames("room", frames, ReplayBatchBytes)
	}
}

// TestEncodeSubscribed: the subscribed frame built around an encoded
// presence snapshot is byte for byte what Encode makes of it.
func TestEncodeSubscribed(t *testing.T) {
	users := []User{{ID: "u1", Username: "ann"}, {ID: "u2", Username: "bot<&>", Bot: true}}
	for _, tc := range []struct {
		room      string
		seq       int64
		recovered bool
		online    []User
	}{{"r1", 0, true, nil}, {"r<\"2", 1234567, false, users}, {"r3", 9, true, []User{}}} {
		var enc []byte
		if tc.online != nil {
			enc = Encode(tc.online)
		}
		want := Encode(Subscribed{Type: TypeSubscribed, Room: tc.room, LastSeq: tc.seq, Recovered: tc.recovered, Online: tc.online})
		if got := EncodeSubscribed(tc.room, tc.seq, tc.recovered, enc); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
}
