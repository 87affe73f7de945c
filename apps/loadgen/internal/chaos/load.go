package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/client"
)

// acks records every acknowledgement the senders got.
type acks struct {
	mu      sync.Mutex
	seq     map[string]int64     // ref -> acked seq
	at      map[string]time.Time // ref -> when acked
	highest int64                // highest acked seq so far
	regress []string             // acks below a seq acked before their send began
	refused []string             // sends answered by an error other than unavailable
}

func newAcks() *acks { return &acks{seq: map[string]int64{}, at: map[string]time.Time{}} }

func (a *acks) top() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.highest
}

func (a *acks) add(ref string, seq, before int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if seq <= before {
		a.regress = append(a.regress, fmt.Sprintf("%s acked %d after %d", ref, seq, before))
	}
	a.seq[ref], a.at[ref] = seq, time.Now()
	a.highest = max(a.highest, seq)
}

// sender posts rate requests a second into the room, one at a time, each
// retried with the same ref (reconnecting to the other server when its
// connection fails) until it is acknowledged. Most are messages; one in
// eight is a reaction to, and one in eight an edit of, its last message,
// so the log's other events face the same faults (v1.1).
type sender struct {
	name    string
	token   string
	servers []string
	cur     int
	room    string
	conn    *client.Conn
	last    string // the id of its last acknowledged message
}

func (s *sender) run(ctx context.Context, stopSending <-chan struct{}, rate float64, a *acks) {
	defer func() {
		if s.conn != nil {
			s.conn.Close()
		}
	}()
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-stopSending:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ref := fmt.Sprintf("%s-%d", s.name, n)
		before := a.top()
		seq, ok := s.sendUntilAck(ctx, ref, a)
		if !ok {
			return
		}
		a.add(ref, seq, before)
	}
}

// sendUntilAck sends ref until an ack; false when ctx ended first.
func (s *sender) sendUntilAck(ctx context.Context, ref string, a *acks) (int64, bool) {
	for ctx.Err() == nil {
		if s.conn == nil {
			c, err := client.Dial(ctx, s.servers[s.cur], s.token)
			if err != nil {
				s.cur = 1 - s.cur
				pause(ctx, 200*time.Millisecond)
				continue
			}
			s.conn = c
		}
		f, err := s.try(ref)
		switch {
		case err != nil:
			s.conn.Close()
			s.conn = nil
			s.cur = 1 - s.cur
			pause(ctx, 100*time.Millisecond)
		case f.Type == "ack":
			if s.request(ref)["type"] == "send" {
				s.last = f.ID
			}
			return f.Seq, true
		case f.Code == "unavailable":
			pause(ctx, 200*time.Millisecond)
		default:
			a.mu.Lock()
			a.refused = append(a.refused, fmt.Sprintf("%s: %s", ref, f.Code))
			a.mu.Unlock()
			pause(ctx, 200*time.Millisecond)
		}
	}
	return 0, false
}

// request is the frame of ref: its number decides the kind, so a retry
// sends the same request again.
func (s *sender) request(ref string) map[string]any {
	var n int
	_, _ = fmt.Sscanf(ref[len(s.name)+1:], "%d", &n)
	switch {
	case s.last != "" && n%8 == 7:
		return map[string]any{"type": "edit", "room": s.room, "ref": ref, "id": s.last, "body": "edited " + ref}
	case s.last != "" && n%4 == 3:
		return map[string]any{"type": "react", "room": s.room, "ref": ref, "id": s.last, "emoji": "👍", "on": n%16 == 3}
	}
	return map[string]any{"type": "send", "room": s.room, "ref": ref, "body": "chaos " + ref}
}

// try sends ref once and reads until its ack or error.
func (s *sender) try(ref string) (frame, error) {
	if err := s.conn.Write(s.request(ref)); err != nil {
		return frame{}, err
	}
	_ = s.conn.WebSocket().SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		f, err := read(s.conn)
		if err != nil {
			return frame{}, err
		}
		if (f.Type == "ack" || f.Type == "error") && f.Ref == ref {
			return f, nil
		}
	}
}

// subscriber watches the room, resubscribing with after_seq on the other
// server whenever its connection ends, and records what it sees.
type subscriber struct {
	token   string
	servers []string
	cur     int
	room    string
	// batch: resubscribe asking for the replay in replay frames (half of
	// the subscribers do, so that the faults test both ways of replaying).
	batch bool

	mu         sync.Mutex
	got        map[int64]time.Time // seq -> first receipt
	last       int64
	dups       int
	outOfOrder int
	closes     []int // server-side close codes seen
	lost       int   // subscribed with recovered:false
	errs       []string
	// subscribedOnce: the first subscription is confirmed.
	subscribedOnce bool
}

func (s *subscriber) run(ctx context.Context) {
	for ctx.Err() == nil {
		c, err := client.Dial(ctx, s.servers[s.cur], s.token)
		if err != nil {
			s.cur = 1 - s.cur
			pause(ctx, 200*time.Millisecond)
			continue
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		err = s.watch(c)
		stop()
		c.Close()
		if ctx.Err() != nil {
			return
		}
		if code := closeCode(err); serverSideClose(code) {
			s.mu.Lock()
			s.closes = append(s.closes, code)
			s.mu.Unlock()
		}
		s.cur = 1 - s.cur
		pause(ctx, 100*time.Millisecond)
	}
}

func (s *subscriber) watch(c *client.Conn) error {
	s.mu.Lock()
	after := s.last
	s.mu.Unlock()
	req := map[string]any{"type": "subscribe", "room": s.room, "after_seq": after}
	if s.batch {
		req["batch"] = true
	}
	if err := c.Write(req); err != nil {
		return err
	}
	for {
		fs, err := readFrames(c)
		if err != nil {
			return err
		}
		s.mu.Lock()
		for _, f := range fs {
			s.see(f)
		}
		s.mu.Unlock()
	}
}

// see records one frame; s.mu is held.
func (s *subscriber) see(f frame) {
	switch f.Type {
	case "message", "edit", "reaction", "delete":
		switch _, seen := s.got[f.Seq]; {
		case seen:
			s.dups++
		case f.Seq < s.last:
			s.outOfOrder++
			s.got[f.Seq] = time.Now()
		default:
			s.got[f.Seq] = time.Now()
			s.last = f.Seq
		}
	case "subscribed":
		s.subscribedOnce = true
		if !f.Recovered {
			s.lost++
		}
	case "error":
		s.errs = append(s.errs, f.Code)
	}
}

// has reports whether the subscriber received every seq of want.
func (s *subscriber) has(want []int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range want {
		if _, ok := s.got[q]; !ok {
			return false
		}
	}
	return true
}
