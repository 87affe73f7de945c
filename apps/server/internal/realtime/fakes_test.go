package realtime_test

import (
	"context"
	"crypto/sha256"
	"sort"
	"sync"

	"github.com/rookery-chat/rookery/apps/server/internal/history"
	"github.com/rookery-chat/rookery/apps/server/internal/realtime"
	"github.com/rookery-chat/rookery/apps/server/internal/store"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// memStore is the database and the persister in memory, for unit tests of
// the real-time core: the fake producer "stores" a message the moment it
// is produced, with the persister's epoch rule (a message of an epoch
// older than one already stored, or than a fence, is dropped).
type memStore struct {
	mu      sync.Mutex
	users   map[string]protocol.User // by token hash
	members map[string]map[string]bool
	epochs  map[string]int64
	log     map[string][]memEntry // by room, ascending
	ids     map[string]bool       // stored message ids
	reads   map[string]int64
}

var _ realtime.Store = (*memStore)(nil)

// memEntry is one stored seq: an event, or a fence.
type memEntry struct {
	Seq   int64
	Fence bool
	Event protocol.Event
}

func newMemStore() *memStore {
	return &memStore{users: map[string]protocol.User{}, members: map[string]map[string]bool{},
		epochs: map[string]int64{}, log: map[string][]memEntry{}, ids: map[string]bool{}, reads: map[string]int64{}}
}

// addUser registers a user with token and makes it a member of rooms.
func (s *memStore) addUser(name, token string, rooms ...string) protocol.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := protocol.User{ID: "id-" + name, Username: name}
	h := sha256.Sum256([]byte(token))
	s.users[string(h[:])] = u
	for _, r := range rooms {
		if s.members[r] == nil {
			s.members[r] = map[string]bool{}
		}
		s.members[r][u.ID] = true
	}
	return u
}

func (s *memStore) UserByToken(_ context.Context, hash []byte) (protocol.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[string(hash)]
	if !ok {
		return protocol.User{}, protocol.Errorf(protocol.CodeUnauthorized, "bad token")
	}
	return u, nil
}

func (s *memStore) CheckMember(_ context.Context, room string, u protocol.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[room] == nil {
		return protocol.Errorf(protocol.CodeNotFound, "no room")
	}
	if !s.members[room][u.ID] {
		return protocol.Errorf(protocol.CodeForbidden, "not a member")
	}
	return nil
}

func (s *memStore) SeedSeq(_ context.Context, room string, set func(int64) (bool, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epochs[room]++
	used, err := set(s.epochs[room])
	if !used || err != nil {
		s.epochs[room]--
	}
	return err
}

// append stores an entry by the persister's rules.
func (s *memStore) append(room string, e memEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.log[room]
	for _, x := range l {
		if x.Seq == e.Seq || bus.EpochOf(x.Seq) > bus.EpochOf(e.Seq) {
			return // replayed, or an older epoch than one stored
		}
	}
	l = append(l, e)
	sort.Slice(l, func(i, j int) bool { return l[i].Seq < l[j].Seq })
	s.log[room] = l
	if !e.Fence {
		s.ids[e.Event.ID] = true
	}
}

// refs counts the stored messages of a ref.
func (s *memStore) refs(room, ref string) int {
	n := 0
	for _, m := range s.messages(room, func(int64) bool { return true }) {
		if m.Ref == ref {
			n++
		}
	}
	return n
}

func (s *memStore) StoredSeq(_ context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id], nil
}

func (s *memStore) RoomLastSeq(_ context.Context, room string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.log[room]
	if len(l) == 0 {
		return 0, nil
	}
	return l[len(l)-1].Seq, nil
}

func (s *memStore) LogAfter(ctx context.Context, room string, after int64, limit int) ([]store.LogEntry, int64, error) {
	top, _ := s.RoomLastSeq(ctx, room)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.LogEntry
	for _, e := range s.log[room] {
		if e.Seq > after && len(out) < limit {
			le := store.LogEntry{Seq: e.Seq, Fence: e.Fence}
			if !e.Fence {
				le.Frame = e.Event.Frame()
			}
			out = append(out, le)
		}
	}
	return out, top, nil
}

func (s *memStore) messages(room string, keep func(int64) bool) []protocol.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []protocol.Message
	for _, e := range s.log[room] {
		if !e.Fence && e.Event.IsMessage() && keep(e.Seq) {
			out = append(out, e.Event.Message())
		}
	}
	return out
}

func (s *memStore) MessagesBefore(_ context.Context, room string, before int64, limit int) ([]history.Stored, error) {
	all := s.messages(room, func(seq int64) bool { return before <= 0 || seq < before })
	out := []history.Stored{}
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, history.Stored{Message: all[i]}) // newest first
	}
	return out, nil
}

func (s *memStore) MessagesAfter(_ context.Context, room string, after int64, limit int) ([]history.Stored, error) {
	all := s.messages(room, func(seq int64) bool { return seq > after })
	if len(all) > limit {
		all = all[:limit]
	}
	out := make([]history.Stored, len(all))
	for i, m := range all {
		out[i] = history.Stored{Message: m}
	}
	return out, nil
}

// LogBefore serves replays; the fake applies no events to messages.
func (s *memStore) LogBefore(_ context.Context, room string, before int64, limit int) ([]bus.Cached, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bus.Cached
	l := s.log[room]
	for i := len(l) - 1; i >= 0 && len(out) < limit; i-- {
		if !l[i].Fence && l[i].Seq < before {
			out = append(out, bus.Cached{Seq: l[i].Seq, Frame: l[i].Event.Frame()})
		}
	}
	return out, nil
}

func (s *memStore) Message(_ context.Context, room, id string) (history.Stored, bool, error) {
	for _, m := range s.messages(room, func(int64) bool { return true }) {
		if m.ID == id {
			return history.Stored{Message: m}, true, nil
		}
	}
	return history.Stored{}, false, nil
}

func (s *memStore) Reactions(context.Context, []string) ([]history.ReactionRow, error) {
	return nil, nil
}

func (s *memStore) Search(context.Context, protocol.User, string, string, int) ([]history.Stored, error) {
	return nil, nil
}

func (s *memStore) MembersNamed(context.Context, string, []string) ([]protocol.User, error) {
	return nil, nil
}

func (s *memStore) RoomOwner(context.Context, string) (string, error) { return "", nil }

func (s *memStore) DirectPeer(context.Context, string, protocol.User) (string, error) { return "", nil }

func (s *memStore) Blocks(context.Context, string, string) (bool, error) { return false, nil }

func (s *memStore) SetLastRead(_ context.Context, room, user string, seq int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads[room+"/"+user] = seq
	return nil
}

func (s *memStore) RoomMembers(_ context.Context, room string, max int32) ([]protocol.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []protocol.User
	for _, u := range s.users {
		if s.members[room][u.ID] && int32(len(out)) < max {
			out = append(out, u)
		}
	}
	return out, nil
}

func (s *memStore) UserRooms(_ context.Context, user string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for r, m := range s.members {
		if m[user] {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *memStore) UserByID(_ context.Context, id string) (protocol.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.ID == id {
			return u, nil
		}
	}
	return protocol.User{}, protocol.Errorf(protocol.CodeNotFound, "no user")
}

// memLog is Kafka and the persister: a produce is stored at once, unless
// the log is stalled, when it waits until resumed or its context ends.
type memLog struct {
	st      *memStore
	mu      sync.Mutex
	stalled chan struct{} // nil: flowing
	waiting chan struct{} // signalled when a produce starts waiting
	// afterProduce, when set, runs once after the next produce (to inject
	// a fault between a send's produce and its commit).
	afterProduce func()
}

func (l *memLog) stall() {
	l.mu.Lock()
	l.stalled = make(chan struct{})
	l.mu.Unlock()
}

func (l *memLog) resume() {
	l.mu.Lock()
	if l.stalled != nil {
		close(l.stalled)
		l.stalled = nil
	}
	l.mu.Unlock()
}

func (l *memLog) wait(ctx context.Context) error {
	l.mu.Lock()
	ch := l.stalled
	l.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case l.waiting <- struct{}{}:
	default:
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *memLog) Produce(ctx context.Context, m protocol.Event) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	l.st.append(m.Room, memEntry{Seq: m.Seq, Event: m})
	l.mu.Lock()
	hook := l.afterProduce
	l.afterProduce = nil
	l.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil
}

func (l *memLog) ProduceFence(ctx context.Context, room string, seq int64) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	l.st.append(room, memEntry{Seq: seq, Fence: true})
	return nil
}
