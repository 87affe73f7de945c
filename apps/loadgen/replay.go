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
	replayPrefix     = []byte(`{"type":"replay",`)
	subscribedPrefix = []byte(`{"type":"subscribed",`)
	errorPrefix      = []byte(`{"type":"error",`)
	seqMark          = []byte(`"seq":`)
)

// resumeScan subscribes to room after seq after and reads the replay up to
// subscribed, asking with batch for it in replay frames (a contract
// addition) rather than one frame per message. It checks each replayed
// frame's room and seq by scanning its bytes instead of decoding it: the load generator shares the two cores
// with the servers it measures, and the Go client's full decode of a
// message (BenchmarkSubscribeReplay in packages/client) cost more CPU than
// the servers' replay of it, so it, not the servers, set the pace.
//
// buf is the connection's read buffer (see readBuffer).
func resumeScan(ctx context.Context, ws *websocket.Conn, room string, after int64, batch bool, buf *bytes.Buffer) (replayed, error) {
	out := replayed{ordered: true}
	req := map[string]any{"type": protocol.TypeSubscribe, "room": room, "after_seq": after}
	if batch {
		req["batch"] = true
	}
	sub, _ := json.Marshal(req)
	if err := ws.WriteMessage(websocket.TextMessage, sub); err != nil {
		return out, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
		defer ws.SetReadDeadline(time.Time{})
	}
	roomMark := []byte(`"room":"` + room + `",`)
	replayMark := []byte(`"room":"` + room + `","frames":[`)
	subMark := []byte(`{"type":"subscribed","room":"` + room + `","last_seq":`)
	last := after
	for {
		if err := readMessage(ws, buf); err != nil {
			return out, err
		}
		f := buf.Bytes()
		switch {
		case bytes.HasPrefix(f, messagePrefix):
			if err := out.scan(f, roomMark, &last); err != nil {
				return out, err
			}
		case bytes.HasPrefix(f, replayPrefix):
			frames, ok := bytes.CutPrefix(f[len(replayPrefix):], replayMark)
			if !ok {
				continue // another room's
			}
			for len(frames) > 0 {
				m, rest, err := nextMessage(frames)
				if err != nil {
					return out, err
				}
				if err := out.scan(m, roomMark, &last); err != nil {
					return out, err
				}
				frames = rest
			}
		case bytes.HasPrefix(f, subscribedPrefix):
			s, ok := fastSubscribed(f, subMark)
			if !ok {
				var err error
				if s, err = decodeSubscribed(f); err != nil {
					return out, err
				}
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

// fastSubscribed reads the room's subscribed frame where the server's
// layout puts its fields, {"type":"subscribed","room":"…","last_seq":N,
// "recovered":B, and reports !ok for anything else. Decoding it, even
// without its presence snapshot (a User per member online), took more of
// the load generator's time than scanning a thousand replayed messages.
func fastSubscribed(f, mark []byte) (protocol.Subscribed, bool) {
	rest, ok := bytes.CutPrefix(f, mark)
	if !ok {
		return protocol.Subscribed{}, false
	}
	seq, n := leadingInt(rest)
	if n == 0 {
		return protocol.Subscribed{}, false
	}
	rest = rest[n:]
	s := protocol.Subscribed{Type: protocol.TypeSubscribed, LastSeq: seq}
	switch {
	case bytes.HasPrefix(rest, recoveredTrue):
		s.Recovered = true
	case bytes.HasPrefix(rest, recoveredFalse):
	default:
		return protocol.Subscribed{}, false
	}
	// The room is the one in mark, after its prefix.
	room := mark[len(`{"type":"subscribed","room":"`) : len(mark)-len(`","last_seq":`)]
	s.Room = string(room)
	return s, true
}

// leadingInt reads the decimal digits b starts with, up to 18 of them (so
// that it cannot overflow): their value and how many there were.
func leadingInt(b []byte) (v int64, n int) {
	for n < len(b) && n < 18 && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	return v, n
}

var (
	recoveredTrue  = []byte(`,"recovered":true`)
	recoveredFalse = []byte(`,"recovered":false`)
)

// decodeSubscribed decodes a subscribed frame, leaving out its presence
// snapshot, which the scenario does not need.
func decodeSubscribed(f []byte) (protocol.Subscribed, error) {
	var s struct {
		Room      string `json:"room"`
		LastSeq   int64  `json:"last_seq"`
		Recovered bool   `json:"recovered"`
	}
	if err := json.Unmarshal(f, &s); err != nil {
		return protocol.Subscribed{}, err
	}
	return protocol.Subscribed{Type: protocol.TypeSubscribed, Room: s.Room, LastSeq: s.LastSeq, Recovered: s.Recovered}, nil
}

// readBuffer is a resuming connection's read buffer, made (and its memory
// touched) before the clock starts: a client that has read a replay frame
// before has one, and the page faults of a fresh one, in every resumer at
// once, were a tenth of the load generator's time.
func readBuffer(batch bool) *bytes.Buffer {
	var buf bytes.Buffer
	if batch {
		buf.Grow(protocol.ReplayBatchBytes + bytes.MinRead)
		b := buf.AvailableBuffer()
		clear(b[:cap(b)])
	}
	return &buf
}

// scan counts one replayed message frame of the room, checking its order.
func (out *replayed) scan(f, roomMark []byte, last *int64) error {
	seq, inRoom, ok := fastSeq(f, roomMark)
	if !ok {
		var err error
		if seq, inRoom, err = messageSeq(f, roomMark); err != nil {
			return err
		}
	}
	if !inRoom {
		return nil
	}
	out.got++
	out.ordered = out.ordered && seq > *last
	*last = seq
	return nil
}

// nextMessage splits the first message frame off a replay frame's list of
// frames (what follows its "frames":[). An element starts with the
// message prefix and ends where the next one starts: the prefix cannot
// occur inside one, since a quote inside a JSON string is escaped.
func nextMessage(frames []byte) (m, rest []byte, err error) {
	if !bytes.HasPrefix(frames, messagePrefix) {
		return nil, nil, fmt.Errorf("replay frame with a frame that is not a message: %.200s", frames)
	}
	next := bytes.Index(frames[len(messagePrefix):], messagePrefix)
	if next < 0 {
		return frames, nil, nil
	}
	end := len(messagePrefix) + next
	return frames[:end], frames[end:], nil
}

var (
	idMark  = []byte(`"id":"`)
	roomKey = []byte(`,"room":"`)
)

// fastSeq reads a message frame's seq where the server's layout puts it,
// {"type":"message","id":"…","room":"…","seq":N, and reports !ok for
// any other layout, which messageSeq then reads: most of the load
// generator's time in a batched resume went to searching for the seq.
func fastSeq(f, roomSeq []byte) (seq int64, inRoom, ok bool) {
	rest, ok := bytes.CutPrefix(f[len(messagePrefix):], idMark)
	if !ok {
		return 0, false, false
	}
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return 0, false, false
	}
	rest = rest[q+1:]
	if !bytes.HasPrefix(rest, roomKey) {
		return 0, false, false
	}
	// roomSeq is `"room":"ROOM",`: the room's mark, then the seq's.
	after, inRoom := bytes.CutPrefix(rest[1:], roomSeq)
	if !inRoom {
		return 0, false, true
	}
	after, ok = bytes.CutPrefix(after, seqMark)
	if !ok {
		return 0, false, false
	}
	seq, n := leadingInt(after)
	if n == 0 || n == len(after) || after[n] != ',' && after[n] != '}' {
		return 0, false, false
	}
	return seq, true, true
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
