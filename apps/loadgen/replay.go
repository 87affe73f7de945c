package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// replayed is what a resuming subscriber got: the replayed messages' seqs,
// checked as they came, and the subscribed frame that ended the replay.
type replayed struct {
	got        int
	ordered    bool // every seq above the one before it
	subscribed protocol.Subscribed
}

var (
	messagePrefix    = []byte(`{"type":"message",`)
	subscribedPrefix = []byte(`{"type":"subscribed",`)
	errorPrefix      = []byte(`{"type":"error",`)
	seqMark          = []byte(`"seq":`)
)

// resumeScan subscribes to room after seq after and reads the replay up to
// subscribed. It checks each replayed frame's room and seq by scanning its
// bytes instead of decoding it: the load generator shares the two cores
// with the servers it measures, and the Go client's full decode of a
// message (BenchmarkSubscribeReplay in packages/client) cost more CPU than
// the servers' replay of it, so it, not the servers, set the pace.
func resumeScan(ctx context.Context, ws *websocket.Conn, room string, after int64) (replayed, error) {
	out := replayed{ordered: true}
	sub, _ := json.Marshal(map[string]any{"type": protocol.TypeSubscribe, "room": room, "after_seq": after})
	if err := ws.WriteMessage(websocket.TextMessage, sub); err != nil {
		return out, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
		defer ws.SetReadDeadline(time.Time{})
	}
	roomMark := []byte(`"room":"` + room + `",`)
	var buf bytes.Buffer
	last := after
	for {
		if err := readMessage(ws, &buf); err != nil {
			return out, err
		}
		f := buf.Bytes()
		switch {
		case bytes.HasPrefix(f, messagePrefix):
			seq, inRoom, err := messageSeq(f, roomMark)
			if err != nil {
				return out, err
			}
			if !inRoom {
				continue
			}
			out.got++
			out.ordered = out.ordered && seq > last
			last = seq
		case bytes.HasPrefix(f, subscribedPrefix):
			var s protocol.Subscribed
			if err := json.Unmarshal(f, &s); err != nil {
				return out, err
			}
			if s.Room == room {
				out.subscribed = s
				return out, nil
			}
		case bytes.HasPrefix(f, errorPrefix):
			return out, fmt.Errorf("subscribe: %.200s", f)
		}
	}
}

// messageSeq reads a message frame's seq, and whether its room is the one
// roomMark names. The server writes a message's id, room and seq first
// (protocol.Message's field order), so the first of each is the message's
// own, before any nested object.
func messageSeq(f, roomMark []byte) (seq int64, inRoom bool, err error) {
	i := bytes.Index(f, seqMark)
	if i < 0 {
		return 0, false, fmt.Errorf("message frame without a seq: %.200s", f)
	}
	rest := f[i+len(seqMark):]
	j := bytes.IndexAny(rest, ",}")
	if j < 0 {
		return 0, false, fmt.Errorf("message frame with a bad seq: %.200s", f)
	}
	seq, err = strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("message frame with a bad seq: %.200s", f)
	}
	return seq, bytes.Contains(f[:i], roomMark), nil
}
