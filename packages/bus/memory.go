package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Memory is the Broker in one process: the same contract as Redis, kept in
// maps, for fast tests of the real-time core without any service. Several
// hubs sharing one Memory behave like servers sharing one Redis. Restart
// loses every key, as a Redis restarted without persistence does.
type Memory struct {
	recentMax int64
	recentTTL time.Duration

	mu      sync.Mutex
	run     int // the "process": changes with Restart
	rooms   map[string]*memRoom
	refs    map[string]memValue // dedup records, in Redis's string format
	windows map[string]memWindow
	claims  map[string]map[string]time.Time // user -> server -> expiry
	index   map[string]time.Time            // user -> latest claim expiry
	subs    map[*memSub]struct{}
}

type memRoom struct {
	counter   int64
	hasCount  bool
	run       int                 // the run that seeded the counter
	fly       map[int64]time.Time // lease expiries
	recent    []memCached         // ascending by seq
	recentExp time.Time
}

type memCached struct {
	seq   int64
	at    time.Time
	frame []byte
}

type memValue struct {
	v   string
	exp time.Time
}

type memWindow struct {
	n   int64
	exp time.Time
}

// NewMemory returns an empty in-process broker whose recent caches keep
// recentMax messages for recentTTL.
func NewMemory(recentMax int64, recentTTL time.Duration) *Memory {
	return &Memory{recentMax: recentMax, recentTTL: recentTTL, run: 1,
		rooms: map[string]*memRoom{}, refs: map[string]memValue{}, windows: map[string]memWindow{},
		claims: map[string]map[string]time.Time{}, index: map[string]time.Time{}, subs: map[*memSub]struct{}{}}
}

// Restart loses every key and starts a new run, like a Redis restart
// without persistence. Subscriptions survive, as go-redis reconnects them,
// and are told to repair (OnSubscribed).
func (m *Memory) Restart() {
	m.mu.Lock()
	m.run++
	m.rooms, m.refs, m.windows = map[string]*memRoom{}, map[string]memValue{}, map[string]memWindow{}
	m.claims, m.index = map[string]map[string]time.Time{}, map[string]time.Time{}
	subs := m.subscriptions()
	m.mu.Unlock()
	for _, s := range subs {
		s.reconnect()
	}
}

// Ping always answers.
func (m *Memory) Ping(context.Context) error { return nil }

func (m *Memory) room(id string) *memRoom {
	r := m.rooms[id]
	if r == nil {
		r = &memRoom{fly: map[int64]time.Time{}}
		m.rooms[id] = r
	}
	return r
}

func refKey(room, user, ref string) string { return room + "\x00" + user + "\x00" + ref }

// Begin implements Sends; see Redis.Begin.
func (m *Memory) Begin(ctx context.Context, user string, draft protocol.Event, ttl time.Duration, replace int64, seed Seeder) (RefRecord, error) {
	key := refKey(draft.Room, user, draft.Ref)
	for attempt := 0; attempt < 3; attempt++ {
		m.mu.Lock()
		now := time.Now()
		if v, ok := m.refs[key]; ok && now.Before(v.exp) {
			rec, err := parseRecord(v.v)
			if err != nil || !(replace != 0 && rec.State == RefPending && rec.Event != nil && rec.Event.Seq == replace) {
				m.mu.Unlock()
				return rec, err
			}
		}
		r := m.room(draft.Room)
		if !r.hasCount || r.run != m.run {
			m.mu.Unlock()
			if err := m.seed(ctx, draft.Room, seed); err != nil {
				return RefRecord{}, err
			}
			continue
		}
		r.counter++
		draft.Seq = r.counter
		b, _ := json.Marshal(draft)
		m.refs[key] = memValue{v: "P|" + string(b), exp: now.Add(ttl)}
		r.fly[draft.Seq] = now.Add(Lease)
		m.mu.Unlock()
		return RefRecord{State: RefNew, Event: &draft}, nil
	}
	return RefRecord{}, unavailable("begin send", fmt.Errorf("counter of room %s vanished while seeding", draft.Room))
}

func (m *Memory) seed(ctx context.Context, room string, seed Seeder) error {
	err := seed(ctx, room, func(epoch int64) (bool, error) {
		return m.newEpoch(room, epoch, 0) != 0, nil
	})
	if err != nil {
		return fmt.Errorf("bus: seed seq: %w", err)
	}
	return nil
}

// newEpoch is the newEpoch script of Redis.
func (m *Memory) newEpoch(room string, epoch, fence int64) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.room(room)
	if r.hasCount && r.run == m.run && (fence == 0 || EpochOf(r.counter) != fence) {
		return 0
	}
	if r.run != m.run {
		r.recent = nil
	}
	r.counter, r.hasCount, r.run = EpochBase(epoch), true, m.run
	clear(r.fly)
	if fence == 0 {
		return -1
	}
	r.counter++
	return r.counter
}

// GetRef implements Sends.
func (m *Memory) GetRef(_ context.Context, room, user, ref string) (RefRecord, bool, error) {
	m.mu.Lock()
	v, ok := m.refs[refKey(room, user, ref)]
	m.mu.Unlock()
	if !ok || !time.Now().Before(v.exp) {
		return RefRecord{}, false, nil
	}
	rec, err := parseRecord(v.v)
	return rec, err == nil, err
}

// SetRef implements Sends.
func (m *Memory) SetRef(_ context.Context, room, user, ref string, rec RefRecord, ttl time.Duration) error {
	v, err := formatRecord(rec)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.refs[refKey(room, user, ref)] = memValue{v: string(v), exp: time.Now().Add(ttl)}
	m.mu.Unlock()
	return nil
}

// Commit implements Sends; see Redis.Commit.
func (m *Memory) Commit(_ context.Context, room string, seq int64, at time.Time, frame []byte, done *Done) error {
	m.mu.Lock()
	r := m.room(room)
	if !r.hasCount || EpochOf(r.counter) != EpochOf(seq) || r.run != m.run {
		m.mu.Unlock()
		return ErrFenced
	}
	now := time.Now()
	delete(r.fly, seq)
	r.expire(now)
	i := sort.Search(len(r.recent), func(i int) bool { return r.recent[i].seq >= seq })
	c := memCached{seq: seq, at: at, frame: frame}
	if i < len(r.recent) && r.recent[i].seq == seq {
		r.recent[i] = c
	} else {
		r.recent = append(r.recent, memCached{})
		copy(r.recent[i+1:], r.recent[i:])
		r.recent[i] = c
	}
	if over := int64(len(r.recent)) - m.recentMax; over > 0 {
		r.recent = r.recent[over:]
	}
	cutoff := now.Add(-m.recentTTL)
	for len(r.recent) > 0 && r.recent[0].at.Before(cutoff) {
		r.recent = r.recent[1:]
	}
	r.recentExp = now.Add(m.recentTTL)
	if done != nil {
		rec := frame
		if done.Record != nil {
			rec = done.Record
		}
		m.refs[refKey(room, done.User, done.Ref)] = memValue{v: "D|" + string(rec), exp: now.Add(done.TTL)}
	}
	subs := m.subscriptions()
	m.mu.Unlock()
	m.publish(subs, room, frame)
	return nil
}

// expire drops a recent cache whose key would have expired in Redis.
func (r *memRoom) expire(now time.Time) {
	if !r.recentExp.IsZero() && now.After(r.recentExp) {
		r.recent, r.recentExp = nil, time.Time{}
	}
}

// Skip implements Sends.
func (m *Memory) Skip(_ context.Context, room string, seq int64) error {
	b, _ := json.Marshal(skipFrame{Type: "skip", Room: room, Seq: seq})
	m.mu.Lock()
	subs := m.subscriptions()
	m.mu.Unlock()
	m.publish(subs, room, b)
	return nil
}

// Fence implements Sends; see Redis.Fence.
func (m *Memory) Fence(ctx context.Context, room string, e int64, seed Seeder) (int64, error) {
	var first int64
	err := seed(ctx, room, func(epoch int64) (bool, error) {
		first = m.newEpoch(room, epoch, e)
		return first != 0, nil
	})
	if err != nil {
		return 0, fmt.Errorf("bus: fence: %w", err)
	}
	if first == 0 {
		return 0, ErrNotFenced
	}
	return first, nil
}

// RenewLease implements Sends.
func (m *Memory) RenewLease(_ context.Context, room string, seq int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.room(room)
	if _, ok := r.fly[seq]; !ok {
		return false, nil
	}
	r.fly[seq] = time.Now().Add(Lease)
	return true, nil
}

// LeaseAlive implements Sends.
func (m *Memory) LeaseAlive(_ context.Context, room string, seq int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.room(room).fly[seq]
	return ok && time.Now().Before(exp), nil
}

// Counter implements Sends.
func (m *Memory) Counter(_ context.Context, room string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.room(room).counter, nil
}
