package bus

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Subscriber holds one pub/sub connection per server, subscribed to the
// channels of the rooms its clients watch (never to every room) and to the
// control channel.
type Subscriber struct {
	ps      *redis.PubSub
	keys    Keys
	h       Handler
	chanPfx string
}

var _ Subscription = (*Subscriber)(nil)

// Subscribe opens the server's pub/sub connection, listening to the
// control channel; add rooms with Subscriber.Subscribe and start it with Run.
func (r *Redis) Subscribe(ctx context.Context, h Handler) Subscription {
	if r.cluster != nil {
		return r.subscribeSharded(ctx, h)
	}
	return &Subscriber{ps: r.rdb.Subscribe(ctx, r.keys.Control()), keys: r.keys, h: h, chanPfx: r.chanPrefix()}
}

// chanPrefix is what every room channel's name starts with.
func (r *Redis) chanPrefix() string { return strings.TrimSuffix(r.keys.Channel(""), "}") }

// Subscribe starts receiving the room's channel. The subscription is
// confirmed through Handler.OnSubscribed.
func (s *Subscriber) Subscribe(ctx context.Context, room string) error {
	if err := s.ps.Subscribe(ctx, s.keys.Channel(room)); err != nil {
		return unavailable("subscribe", err)
	}
	return nil
}

// Unsubscribe stops receiving the room's channel.
func (s *Subscriber) Unsubscribe(ctx context.Context, room string) error {
	if err := s.ps.Unsubscribe(ctx, s.keys.Channel(room)); err != nil {
		return unavailable("unsubscribe", err)
	}
	return nil
}

func (s *Subscriber) roomOf(channel string) (string, bool) {
	rest, ok := strings.CutPrefix(channel, s.chanPfx)
	if !ok || len(rest) < 2 {
		return "", false
	}
	return rest[:len(rest)-1], true
}

// Close ends Run: it closes the connection a blocked receive waits on.
func (s *Subscriber) Close() { _ = s.ps.Close() }

// Run receives until ctx ends or Close. A broken connection is re-established by
// the client, which subscribes again to every channel; the confirmations
// reach OnSubscribed.
func (s *Subscriber) Run(ctx context.Context) {
	defer s.ps.Close()
	receive(ctx, s.ps, "", func(msg any) {
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel == s.keys.Control() {
				s.h.OnControl([]byte(m.Payload))
			} else if room, ok := s.roomOf(m.Channel); ok {
				deliver(s.h, room, []byte(m.Payload))
			}
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				if room, ok := s.roomOf(m.Channel); ok {
					s.h.OnSubscribed(room)
				}
			}
		}
	})
}

// receive hands what ps receives to handle until ctx ends or ps closes,
// pinging a quiet connection and backing off while it reconnects.
func receive(ctx context.Context, ps *redis.PubSub, shard string, handle func(msg any)) {
	backoff := 50 * time.Millisecond
	for {
		msg, err := ps.ReceiveTimeout(ctx, 15*time.Second)
		if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Quiet channel: check the connection is still alive.
				_ = ps.Ping(ctx)
				continue
			}
			var refused redis.Error
			if errors.As(err, &refused) {
				// A reply, not a broken connection: Redis refused one
				// of our commands (MOVED to an unsubscribe of a channel
				// whose slot has just moved away). The connection and
				// its other channels are fine.
				slog.Debug("redis pub/sub command refused", "shard", shard, "err", err)
				continue
			}
			slog.Warn("redis pub/sub receive failed; reconnecting", "shard", shard, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		handle(msg)
	}
}
