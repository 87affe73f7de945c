package servertest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/client"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// TestReplayBatches: a subscribe with batch gets the same replay as one
// without, byte for byte and in order, gathered in replay frames of at
// most protocol.ReplayBatchBytes; then subscribed, then live messages one
// frame each. Enough is missed (edits included) to need several frames.
func TestReplayBatches(t *testing.T) {
	c := servertest.NewCluster(t)
	s1, s2 := c.Start(t, "s1"), c.Start(t, "s2")
	ctx, cancel := context.WithTimeout(context.Background(), 2*servertest.Timeout)
	defer cancel()

	ann, bob, room := annAndBob(ctx, t, s1.URL, s2.URL, "batches")
	annConn, err := client.Dial(ctx, s1.URL, ann.Token)
	if err != nil {
		t.Fatal(err)
	}
	sender := client.NewSession(annConn, nil, nil)
	defer sender.Close()
	var first protocol.Ack
	for i := range 60 {
		ack, err := sender.SendRetry(ctx, room.ID, fmt.Sprintf("r%d", i), fmt.Sprintf("%d %0*d", i, 3000, i))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = ack
		}
	}
	if _, err := sender.Edit(ctx, room.ID, "e0", first.ID, "edited"); err != nil {
		t.Fatal(err)
	}

	after := int64(0)
	one := s2.Dial(t, bob.Token)
	want, wantSub := one.Subscribe(room.ID, &after)
	if len(want) != 61 {
		t.Fatalf("one frame each: %d replayed, want 61", len(want))
	}

	batched := s2.Dial(t, bob.Token)
	batched.Send(map[string]any{"type": "subscribe", "room": room.ID, "after_seq": after, "batch": true})
	var got [][]byte
	replays := 0
	for {
		f := batched.Next()
		if f.Type() == protocol.TypeSubscribed {
			if f.Int("last_seq") != wantSub.Int("last_seq") || f.M["recovered"] != true {
				t.Fatalf("subscribed %s, want last_seq %d and recovered", f.Raw, wantSub.Int("last_seq"))
			}
			break
		}
		if f.Type() != protocol.TypeReplay {
			t.Fatalf("%s frame before subscribed: %.200s", f.Type(), f.Raw)
		}
		replays++
		if len(f.Raw) > protocol.ReplayBatchBytes {
			t.Fatalf("replay frame of %d bytes", len(f.Raw))
		}
		var r struct {
			Room   string            `json:"room"`
			Frames []json.RawMessage `json:"frames"`
		}
		f.Decode(t, &r)
		if r.Room != room.ID || len(r.Frames) == 0 {
			t.Fatalf("replay frame for room %q with %d frames", r.Room, len(r.Frames))
		}
		for _, e := range r.Frames {
			got = append(got, e)
		}
	}
	if replays < 2 || len(got) != len(want) {
		t.Fatalf("%d replay frames with %d frames, want several with %d", replays, len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i].Raw) {
			t.Fatalf("frame %d: %.120s, one frame each: %.120s", i, got[i], want[i].Raw)
		}
	}

	// Live again: a message is its own frame.
	if _, err := sender.SendRetry(ctx, room.ID, "live", "live"); err != nil {
		t.Fatal(err)
	}
	if f := batched.NextOf(protocol.TypeMessage); f.Str("body") != "live" {
		t.Fatalf("live: %s", f.Raw)
	}

	// The Go client asks for batches, and hands the messages back alike.
	conn, err := client.Dial(ctx, s1.URL, bob.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs, sub, err := conn.Subscribe(ctx, room.ID, &after)
	if err != nil || len(msgs) != 61 || !sub.Recovered || msgs[60].Body != "live" || msgs[60].Seq != sub.LastSeq {
		t.Fatalf("Go client: %d messages, %+v, %v", len(msgs), sub, err)
	}
}
