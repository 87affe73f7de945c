// Package send is the durable send path: a message is acknowledged only
// once Kafka holds it, and then cached and published in the broker; a send
// whose first attempt failed is settled in the background until its fate
// is known (see fate.go).
package send

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Options tune the send path.
type Options struct {
	// DedupTTL is how long a ref is remembered (DEDUP_TTL).
	DedupTTL time.Duration
	// KafkaWriteTimeout bounds one produce (KAFKA_WRITE_TIMEOUT).
	KafkaWriteTimeout time.Duration
	// GapTimeout is how long a room waits on a missing seq before asking
	// whether its send is gone (GAP_TIMEOUT).
	GapTimeout time.Duration
	// Committed, when set, is called once for each event this server
	// committed, after its ack (mentions are announced from here).
	Committed func(protocol.Event)
}

// Store is what the send path needs from PostgreSQL.
type Store interface {
	SeedSeq(ctx context.Context, roomID string, set func(epoch int64) (bool, error)) error
	StoredSeq(ctx context.Context, messageID string) (bool, error)
	RoomLastSeq(ctx context.Context, roomID string) (int64, error)
}

// Producer appends a message, or a fence record, to the durable log.
type Producer interface {
	Produce(ctx context.Context, msg protocol.Event) error
	ProduceFence(ctx context.Context, room string, seq int64) error
}

var _ Producer = (*bus.Producer)(nil)

// Sender sends messages. Its background work (lease renewals, sends
// settled after a failure, takeovers) ends at Close.
type Sender struct {
	log      *slog.Logger
	opts     Options
	broker   bus.Sends
	producer Producer
	store    Store
	commits  *commitWaiters
	settling chan struct{} // slots of sends settled in the background

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	// takeovers are the sends of dead owners this server is settling.
	takeovers map[roomSeq]bool
	// flights are this server's sends whose fate is not settled yet.
	flights map[refKey]chan struct{}
}

// New returns a Sender.
func New(log *slog.Logger, opts Options, broker bus.Sends, p Producer, st Store) *Sender {
	ctx, cancel := context.WithCancel(context.Background())
	return &Sender{log: log, opts: opts, broker: broker, producer: p, store: st, ctx: ctx, cancel: cancel,
		commits: newCommitWaiters(), settling: make(chan struct{}, settleSlots), takeovers: map[roomSeq]bool{},
		flights: map[refKey]chan struct{}{}}
}

// enter counts a timer's work as the Sender's, so that Close waits for
// it; false once Close began (the work must then not start). Pair with
// s.wg.Done.
func (s *Sender) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// goWork runs fn as the Sender's work, unless Close began.
func (s *Sender) goWork(fn func()) bool {
	if !s.enter() {
		return false
	}
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// Close stops the background work and waits for it: sends still being
// settled stop where they are, their leases expire, and the rooms settle
// them from the log.
func (s *Sender) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Seen is called for every message on a room channel, before its fan-out.
func (s *Sender) Seen(room string, seq int64) { s.commits.seen(room, seq) }
