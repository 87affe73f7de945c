package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// shardedSubscriber is a Subscription on a Redis Cluster. The control
// channel is a plain one (a PUBLISH reaches every node), on a connection
// of its own. Room channels are sharded: a room's channel lives on the
// shard that owns the room's slot, and go-redis sends every channel of one
// PubSub to the node of its first channel, so each shard gets a PubSub of
// its own. When a master fails, its PubSub reconnects to the replica that
// took over and subscribes again (OnSubscribed: the rooms repair from the
// cache); when a slot moves, Redis unsubscribes its channels and they are
// subscribed again on their new shard.
//
// Subscribe and Unsubscribe must not be called concurrently (fanout orders
// them); the handler is called from one goroutine per shard, so one room's
// frames arrive in order.
type shardedSubscriber struct {
	rdb  *redis.ClusterClient
	keys Keys
	h    Handler
	ctrl *Subscriber

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	shards map[string]*shard // by master address
	rooms  map[string]*shard
	// confirms are closed by the confirmation (ssubscribe) of a room
	// subscribed again after its slot moved.
	confirms map[string]chan struct{}
}

type shard struct {
	addr string
	ps   *redis.PubSub
}

var _ Subscription = (*shardedSubscriber)(nil)

func (r *Redis) subscribeSharded(ctx context.Context, h Handler) *shardedSubscriber {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ctrl := &Subscriber{ps: r.cluster.Subscribe(ctx, r.keys.Control()), keys: r.keys, h: h, chanPfx: r.chanPrefix()}
	return &shardedSubscriber{rdb: r.cluster, keys: r.keys, h: h, ctrl: ctrl, ctx: sctx, cancel: cancel,
		shards: map[string]*shard{}, rooms: map[string]*shard{}, confirms: map[string]chan struct{}{}}
}

// Subscribe implements Subscription.
func (s *shardedSubscriber) Subscribe(ctx context.Context, room string) error {
	ch := s.keys.Channel(room)
	master, err := s.rdb.MasterForKey(ctx, ch)
	if err != nil {
		return unavailable("subscribe", err)
	}
	addr := master.Options().Addr
	s.mu.Lock()
	sh := s.shards[addr]
	s.mu.Unlock()
	if sh != nil {
		s.mu.Lock()
		s.rooms[room] = sh
		s.mu.Unlock()
		if err := sh.ps.SSubscribe(ctx, ch); err != nil {
			return unavailable("subscribe", err)
		}
		return nil
	}
	// A shard's connection is opened by its first channel, which picks the
	// node; only then may it be read (a read first would open it to any
	// node).
	sh = &shard{addr: addr, ps: s.rdb.SSubscribe(s.ctx)}
	if err := sh.ps.SSubscribe(ctx, ch); err != nil {
		_ = sh.ps.Close()
		return unavailable("subscribe", err)
	}
	s.mu.Lock()
	s.shards[addr] = sh
	s.rooms[room] = sh
	s.mu.Unlock()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.receive(sh) }()
	return nil
}

// Unsubscribe implements Subscription.
func (s *shardedSubscriber) Unsubscribe(ctx context.Context, room string) error {
	s.mu.Lock()
	sh := s.rooms[room]
	delete(s.rooms, room)
	s.mu.Unlock()
	if sh == nil {
		return nil
	}
	if err := sh.ps.SUnsubscribe(ctx, s.keys.Channel(room)); err != nil {
		return unavailable("unsubscribe", err)
	}
	return nil
}

// Run implements Subscription: it receives the control channel here and
// each shard on a goroutine of its own, until ctx ends or Close.
func (s *shardedSubscriber) Run(ctx context.Context) {
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	s.ctrl.Run(s.ctx)
	s.cancel()
	s.mu.Lock()
	for _, sh := range s.shards {
		_ = sh.ps.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Close implements Subscription.
func (s *shardedSubscriber) Close() {
	s.cancel()
	s.ctrl.Close()
}

// receive delivers one shard's frames until the subscriber closes.
func (s *shardedSubscriber) receive(sh *shard) {
	receive(s.ctx, sh.ps, sh.addr, func(msg any) {
		switch m := msg.(type) {
		case *redis.Message:
			if room, ok := s.ctrl.roomOf(m.Channel); ok {
				deliver(s.h, room, []byte(m.Payload))
			}
		case *redis.Subscription:
			room, ok := s.ctrl.roomOf(m.Channel)
			if !ok {
				return
			}
			switch m.Kind {
			case "ssubscribe":
				s.confirmed(room)
				s.h.OnSubscribed(room)
			case "sunsubscribe":
				s.moved(sh, room)
			}
		}
	})
}

// moved handles a channel the shard dropped by itself (its slot moved to
// another shard): the room, still wanted, is subscribed where it now lives.
func (s *shardedSubscriber) moved(sh *shard, room string) {
	s.mu.Lock()
	wanted := s.rooms[room] == sh
	s.mu.Unlock()
	if !wanted || s.ctx.Err() != nil {
		return // our own Unsubscribe, or closing
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ch := s.keys.Channel(room)
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		_ = sh.ps.SUnsubscribe(ctx, ch) // forget it here, or a reconnect would bring it back
		cancel()
		// Until the room is subscribed on its new shard, or no longer
		// wanted: a room left deaf would never learn it is.
		for backoff := time.Second; ; backoff = min(2*backoff, 10*time.Second) {
			// go-redis still maps the slot to this shard until it
			// reloads the cluster's layout (lazily, in the background);
			// subscribing before would go to the old master and be
			// refused with MOVED.
			//
			// And only its confirmation counts: go-redis reloads the
			// layout from any node, a replica that has not heard of the
			// move included, so the subscribe may still go to the old
			// master, which refuses it with MOVED on the subscription's
			// connection, where nobody waits for the reply.
			ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
			err := s.awaitOwner(ctx, ch, sh.addr)
			if err == nil {
				confirmed := s.expectConfirm(room)
				if err = s.Subscribe(ctx, room); err == nil {
					select {
					case <-confirmed:
					case <-ctx.Done():
						err = fmt.Errorf("subscribe of %s not confirmed: %w", ch, ctx.Err())
					}
				}
			}
			cancel()
			if err == nil || s.ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			wanted := s.rooms[room] != nil
			if !wanted {
				delete(s.confirms, room) // nobody waits for it any more
			}
			s.mu.Unlock()
			if !wanted {
				return // unsubscribed meanwhile
			}
			slog.Warn("room not subscribed again after its slot moved; retrying", "room", room, "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
	}()
}

// expectConfirm returns a channel closed when room's next subscription is
// confirmed.
func (s *shardedSubscriber) expectConfirm(room string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.confirms[room]
	if ch == nil {
		ch = make(chan struct{})
		s.confirms[room] = ch
	}
	return ch
}

// confirmed closes the channel of expectConfirm for room, if any.
func (s *shardedSubscriber) confirmed(room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.confirms[room]; ch != nil {
		close(ch)
		delete(s.confirms, room)
	}
}

// awaitOwner waits until the client's view of the cluster has channel
// ch's slot on a master other than old.
func (s *shardedSubscriber) awaitOwner(ctx context.Context, ch, old string) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		s.rdb.ReloadState(ctx)
		if m, err := s.rdb.MasterForKey(ctx, ch); err == nil && m.Options().Addr != old {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("slot of %s still on %s: %w", ch, old, ctx.Err())
		case <-t.C:
		}
	}
}
