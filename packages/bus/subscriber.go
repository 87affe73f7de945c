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

// Handler receives what arrives on the room channels a server subscribed to.
type Handler interface {
	// OnMessage gets a payload published on the room's channel.
	OnMessage(room string, payload []byte)
	// OnSubscribed is called when Redis confirms the room's subscription:
	// the first time, and again after every reconnect, when anything
	// published meanwhile was lost and must be read back from the cache.
	OnSubscribed(room string)
	// OnControl gets a payload of the cluster-wide control channel.
	OnControl(payload []byte)
}

// Subscriber holds one pub/sub connection per server, subscribed to the
// channels of the rooms its clients watch (never to every room) and to the
// control channel.
type Subscriber struct {
	ps      *redis.PubSub
	keys    Keys
	h       Handler
	log     *slog.Logger
	chanPfx string
}

// NewSubscriber opens the pub/sub connection.
func NewSubscriber(ctx context.Context, rdb *redis.Client, keys Keys, h Handler, log *slog.Logger) *Subscriber {
	return &Subscriber{ps: rdb.Subscribe(ctx, keys.Control()), keys: keys, h: h, log: log,
		chanPfx: strings.TrimSuffix(keys.Channel(""), "}")}
}

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
	backoff := 50 * time.Millisecond
	for {
		msg, err := s.ps.ReceiveTimeout(ctx, 15*time.Second)
		if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Quiet channel: check the connection is still alive.
				_ = s.ps.Ping(ctx)
				continue
			}
			s.log.Warn("redis pub/sub receive failed; reconnecting", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel == s.keys.Control() {
				s.h.OnControl([]byte(m.Payload))
			} else if room, ok := s.roomOf(m.Channel); ok {
				s.h.OnMessage(room, []byte(m.Payload))
			}
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				if room, ok := s.roomOf(m.Channel); ok {
					s.h.OnSubscribed(room)
				}
			}
		}
	}
}
