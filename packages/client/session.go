package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Session runs a Conn: one goroutine reads it, matches acks and errors to
// the sends waiting for them (by ref) and subscribed frames to the
// subscribes, and hands every other frame to the handler, messages at most
// once per room and seq. Its positions (the last seq seen per room) carry
// over to the next Session after a reconnect, whose subscribes then resume
// there: the contract replays what was missed, and nothing twice.
type Session struct {
	conn    *Conn
	handler func(Frame)
	done    chan struct{}

	mu    sync.Mutex
	err   error
	last  map[string]int64 // room -> highest seq handed to the handler
	sends map[string]chan Frame
	subs  map[string]chan Frame
}

// NewSession starts reading conn. handler gets every frame that is not an
// answer to the session's own requests (message, typing, presence, ...),
// on the session's goroutine: it must not block. positions, from the
// previous session's Positions, make subscribes resume.
func NewSession(conn *Conn, handler func(Frame), positions map[string]int64) *Session {
	s := &Session{conn: conn, handler: handler, done: make(chan struct{}), last: map[string]int64{},
		sends: map[string]chan Frame{}, subs: map[string]chan Frame{}}
	for r, seq := range positions {
		s.last[r] = seq
	}
	go s.run()
	return s
}

// Done is closed when the connection ended; Err says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the session ended (nil while it runs).
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the session and its connection.
func (s *Session) Close() error {
	err := s.conn.Close()
	<-s.done
	return err
}

// Positions are the last seq seen in each room.
func (s *Session) Positions() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.last))
	for r, seq := range s.last {
		out[r] = seq
	}
	return out
}

func (s *Session) run() {
	defer close(s.done)
	for {
		f, err := s.conn.Read()
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		s.route(f)
	}
}

// route hands one frame to whoever waits for it.
func (s *Session) route(f Frame) {
	switch f.Type {
	case protocol.TypeReplay:
		if _, frames, err := f.Replay(); err == nil {
			for _, g := range frames {
				s.route(g)
			}
		}
		return
	case protocol.TypeAck, protocol.TypeError:
		var h struct {
			Ref  string `json:"ref"`
			Room string `json:"room"`
		}
		_ = f.Decode(&h)
		s.mu.Lock()
		ch := s.sends[h.Ref]
		delete(s.sends, h.Ref)
		if ch == nil && f.Type == protocol.TypeError && h.Ref == "" {
			ch = s.subs[h.Room] // a subscribe refused
			delete(s.subs, h.Room)
		}
		s.mu.Unlock()
		if ch != nil {
			ch <- f
			return
		}
	case protocol.TypeSubscribed:
		sub, _ := f.Subscribed()
		s.mu.Lock()
		ch := s.subs[sub.Room]
		delete(s.subs, sub.Room)
		s.mu.Unlock()
		if ch != nil {
			ch <- f
		}
		return
	case protocol.TypeMessage, protocol.TypeEdit, protocol.TypeDelete, protocol.TypeReaction:
		var h struct {
			Room string `json:"room"`
			Seq  int64  `json:"seq"`
		}
		if f.Decode(&h) != nil {
			return
		}
		s.mu.Lock()
		if h.Seq <= s.last[h.Room] {
			s.mu.Unlock()
			return // replayed, seen already
		}
		s.last[h.Room] = h.Seq
		s.mu.Unlock()
	}
	if s.handler != nil {
		s.handler(f)
	}
}

// wait waits for the frame answering a request.
func (s *Session) wait(ctx context.Context, ch chan Frame, forget func()) (Frame, error) {
	select {
	case f := <-ch:
		if f.Type == protocol.TypeError {
			return f, frameError(f)
		}
		return f, nil
	case <-s.done:
		forget()
		return Frame{}, fmt.Errorf("rookery: connection ended: %w", s.Err())
	case <-ctx.Done():
		forget()
		return Frame{}, ctx.Err()
	}
}

// Subscribe subscribes to room, resuming after the session's position in
// it when it has one. Replayed messages reach the handler before
// Subscribe returns.
func (s *Session) Subscribe(ctx context.Context, room string) (protocol.Subscribed, error) {
	ch := make(chan Frame, 1)
	s.mu.Lock()
	if _, busy := s.subs[room]; busy {
		s.mu.Unlock()
		return protocol.Subscribed{}, fmt.Errorf("rookery: already subscribing to %s", room)
	}
	s.subs[room] = ch
	var after *int64
	if seq, ok := s.last[room]; ok {
		after = &seq
	}
	s.mu.Unlock()
	forget := func() { s.mu.Lock(); delete(s.subs, room); s.mu.Unlock() }
	if err := s.conn.Write(subscribeFrame(room, after)); err != nil {
		forget()
		return protocol.Subscribed{}, err
	}
	f, err := s.wait(ctx, ch, forget)
	if err != nil {
		return protocol.Subscribed{}, err
	}
	sub, err := f.Subscribed()
	if err == nil {
		s.mu.Lock()
		if _, ok := s.last[room]; !ok {
			s.last[room] = sub.LastSeq // live from here
		}
		s.mu.Unlock()
	}
	return sub, err
}

// Send sends body to room under ref and waits for the ack: the message is
// then durable. An error frame comes back as a *FrameError.
func (s *Session) Send(ctx context.Context, room, ref, body string) (protocol.Ack, error) {
	return s.Request(ctx, map[string]any{"type": protocol.TypeSend, "room": room, "ref": ref, "body": body})
}

// Edit replaces the body of my message id (contract v1.1).
func (s *Session) Edit(ctx context.Context, room, ref, id, body string) (protocol.Ack, error) {
	return s.Request(ctx, map[string]any{"type": protocol.TypeEdit, "room": room, "ref": ref, "id": id, "body": body})
}

// Delete deletes message id for everyone (its sender, or the room's owner).
func (s *Session) Delete(ctx context.Context, room, ref, id string) (protocol.Ack, error) {
	return s.Request(ctx, map[string]any{"type": protocol.TypeDelete, "room": room, "ref": ref, "id": id})
}

// React adds (on) or removes my emoji reaction to message id.
func (s *Session) React(ctx context.Context, room, ref, id, emoji string, on bool) (protocol.Ack, error) {
	return s.Request(ctx, map[string]any{"type": protocol.TypeReact, "room": room, "ref": ref, "id": id, "emoji": emoji, "on": on})
}

// Request sends a frame that adds to a room's log (send, edit, delete,
// react: it must carry a "ref") and waits for its ack, which names the
// event's seq and the message's id. An error frame comes back as a
// *FrameError.
func (s *Session) Request(ctx context.Context, frame map[string]any) (protocol.Ack, error) {
	ref, _ := frame["ref"].(string)
	ch := make(chan Frame, 1)
	s.mu.Lock()
	if _, busy := s.sends[ref]; busy {
		s.mu.Unlock()
		return protocol.Ack{}, fmt.Errorf("rookery: ref %s is already in flight", ref)
	}
	s.sends[ref] = ch
	s.mu.Unlock()
	forget := func() { s.mu.Lock(); delete(s.sends, ref); s.mu.Unlock() }
	if err := s.conn.Write(frame); err != nil {
		forget()
		return protocol.Ack{}, err
	}
	f, err := s.wait(ctx, ch, forget)
	if err != nil {
		return protocol.Ack{}, err
	}
	return f.Ack()
}

// SendRetry is Send, retried with the same ref while the server answers
// unavailable or rate_limited (backing off up to 2 s), until ctx ends. The
// ref makes the retries one message.
func (s *Session) SendRetry(ctx context.Context, room, ref, body string) (protocol.Ack, error) {
	delay := 50 * time.Millisecond
	for {
		ack, err := s.Send(ctx, room, ref, body)
		if err == nil || !retryable(err) {
			return ack, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return protocol.Ack{}, errors.Join(err, ctx.Err())
		case <-s.done:
			t.Stop()
			return protocol.Ack{}, err
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func retryable(err error) bool {
	return IsCode(err, protocol.CodeUnavailable) || IsCode(err, protocol.CodeRateLimited)
}
