package persist

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// Reader is a consumer-group reader the Renewing source can replace.
type Reader interface {
	Source
	Close() error
}

var _ Reader = (*kafka.Reader)(nil)

// Renewing is a Source that replaces its reader when the reader stalls: the
// broker reports a backlog, yet no record has come for a while, and nothing
// else explains it (see Watch). A group reader that waits forever with
// records to read is a failure of the client library (kafka-go has had
// several: an empty assignment kept for the life of the process, a fetch
// that never returned after a broker restart); a new reader rejoins the
// group and starts from the committed offsets, so a replacement repeats
// work (stored once all the same) and loses nothing.
type Renewing struct {
	log  *slog.Logger
	open func() Reader
	// closing tracks the replaced readers' Close, which waits for the
	// reader's own goroutines and may take as long as they are stuck.
	closing sync.WaitGroup
	renewed atomic.Int64 // replacements so far

	mu  sync.Mutex
	cur Reader
	// gen ends when cur is replaced, cutting short the fetches waiting on
	// it: a stuck reader's Close may never return, nor its fetches.
	gen    context.Context
	endGen context.CancelFunc
	last   time.Time // the newest record's arrival, or when cur was opened
	closed bool      // Close was called: no more replacements
}

var _ Source = (*Renewing)(nil)

// NewRenewing opens a reader with open and returns a Source over it.
func NewRenewing(log *slog.Logger, open func() Reader) *Renewing {
	r := &Renewing{log: log, open: open, cur: open(), last: time.Now()}
	r.gen, r.endGen = context.WithCancel(context.Background())
	return r
}

func (r *Renewing) reader() Reader {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// FetchMessage is the next record of the current reader. A fetch cut short
// because its reader was replaced goes on with the new one.
func (r *Renewing) FetchMessage(ctx context.Context) (kafka.Message, error) {
	for {
		r.mu.Lock()
		cur, gen := r.cur, r.gen
		r.mu.Unlock()
		fctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(gen, cancel)
		m, err := cur.FetchMessage(fctx)
		stop()
		cancel()
		switch {
		case err == nil:
			r.mu.Lock()
			if r.cur == cur {
				r.last = time.Now()
			}
			r.mu.Unlock()
			return m, nil
		case ctx.Err() == nil && gen.Err() != nil:
			continue // replaced meanwhile
		default:
			return m, err
		}
	}
}

// CommitMessages commits on the current reader: a record fetched from a
// replaced one commits through the group the same way.
func (r *Renewing) CommitMessages(ctx context.Context, msgs ...kafka.Message) error {
	return r.reader().CommitMessages(ctx, msgs...)
}

// Stats are the current reader's.
func (r *Renewing) Stats() kafka.ReaderStats { return r.reader().Stats() }

// Renewals is how many times the reader was replaced.
func (r *Renewing) Renewals() int64 { return r.renewed.Load() }

// Watch checks every period, until ctx ends, and replaces the reader when
// no record came for after while stalled says the consumer should have got
// some (in the persister: a backlog on the broker, no offsets committed by
// any member, PostgreSQL answering).
func (r *Renewing) Watch(ctx context.Context, period, after time.Duration, stalled func() bool) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		quiet := time.Since(r.last)
		r.mu.Unlock()
		if quiet > after && stalled() {
			r.renew(quiet)
		}
	}
}

func (r *Renewing) renew(quiet time.Duration) {
	r.log.Warn("consumer stalled with a backlog; replacing the Kafka reader", "quiet", quiet.Round(time.Second))
	next := r.open()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = next.Close()
		return
	}
	old, endOld := r.cur, r.endGen
	r.cur, r.last = next, time.Now()
	r.gen, r.endGen = context.WithCancel(context.Background())
	// The old reader's figures and Close on a goroutine of their own: a
	// stuck reader may block either, and the watch must go on. Started
	// under mu, so Close's wait for it cannot begin before it is counted.
	r.closing.Go(func() {
		st := old.Stats()
		r.log.Warn("the replaced Kafka reader", "partition", st.Partition, "offset", st.Offset,
			"reader_lag", st.Lag, "rebalances", st.Rebalances, "errors", st.Errors, "fetches", st.Fetches)
		if err := old.Close(); err != nil {
			r.log.Warn("closing the replaced Kafka reader", "err", err)
		}
	})
	r.mu.Unlock()
	r.renewed.Add(1)
	readerRenewals.Inc()
	endOld()
}

// Close closes the current reader, then waits up to grace for replaced
// readers still closing (a reader stuck for good is left behind).
func (r *Renewing) Close(grace time.Duration) error {
	r.mu.Lock()
	r.closed = true
	cur, end := r.cur, r.endGen
	r.mu.Unlock()
	defer end()
	err := cur.Close()
	done := make(chan struct{})
	go func() { r.closing.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		r.log.Warn("a replaced Kafka reader did not close", "waited", grace)
	}
	return err
}
