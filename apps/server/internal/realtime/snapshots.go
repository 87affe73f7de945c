package realtime

import (
	"context"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// snapshotTimeout bounds a shared presence snapshot, which no single
// subscriber's context ends.
const snapshotTimeout = 5 * time.Second

// snapshots shares a room's presence snapshot among the subscribes that
// want one at the same moment. When a server restarts, every member of a
// busy room resubscribes at once, and each asking Redis for the presence
// of every member (a ZCOUNT per member) made the snapshots, not the
// replays, the largest part of a resume storm.
//
// A caller shares only a snapshot started after it asked: one started
// earlier may miss a change it would otherwise have seen, so a caller
// that finds one under way waits for it to end and shares the next.
type snapshots struct {
	mu     sync.Mutex
	ticket uint64
	flying map[string]*snapshot // room -> the snapshot being taken
}

type snapshot struct {
	ticket uint64 // taken when it started
	done   chan struct{}
	users  []protocol.User
	err    error

	once    sync.Once
	encoded []byte // users as JSON, made once for all who share it
}

// Encoded is the snapshot's users as a JSON array, for
// protocol.EncodeSubscribed; nil when it failed or is empty.
func (f *snapshot) Encoded() []byte {
	f.once.Do(func() {
		if f.err == nil && len(f.users) > 0 {
			f.encoded = protocol.Encode(f.users)
		}
	})
	return f.encoded
}

func newSnapshots() *snapshots { return &snapshots{flying: make(map[string]*snapshot)} }

// get returns a snapshot of room started after the call, taking it with
// take unless another caller does. The snapshot is shared: nothing in it
// may be modified.
func (s *snapshots) get(ctx context.Context, room string, take func(context.Context) ([]protocol.User, error)) (*snapshot, error) {
	s.mu.Lock()
	s.ticket++
	asked := s.ticket
	s.mu.Unlock()
	for {
		s.mu.Lock()
		f := s.flying[room]
		if f == nil {
			s.ticket++
			f = &snapshot{ticket: s.ticket, done: make(chan struct{})}
			s.flying[room] = f
			s.mu.Unlock()
			s.take(ctx, room, f, take)
			return f, f.err
		}
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.ticket > asked {
			return f, f.err
		}
	}
}

// take runs one snapshot for everyone waiting on f.
func (s *snapshots) take(ctx context.Context, room string, f *snapshot, take func(context.Context) ([]protocol.User, error)) {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), snapshotTimeout)
	defer cancel()
	f.users, f.err = take(tctx)
	s.mu.Lock()
	delete(s.flying, room)
	s.mu.Unlock()
	close(f.done)
}
