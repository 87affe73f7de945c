package persist

import (
	"context"
	"errors"
	"io"
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

	mu   sync.Mutex
	cur  Reader
	last time.Time // the newest record's arrival, or when cur was opened
}

var _ Source = (*Renewing)(nil)

// NewRenewing opens a reader with open and returns a Source over it.
func NewRenewing(log *slog.Logger, open func() Reader) *Renewing {
	return &Renewing{log: log, open: open, cur: open(), last: time.Now()}
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
		cur := r.reader()
		m, err := cur.FetchMessage(ctx)
		r.mu.Lock()
		replaced := r.cur != cur
		if err == nil && !replaced {
			r.last = time.Now()
		}
		r.mu.Unlock()
		switch {
		case err == nil:
			return m, nil
		case replaced && ctx.Err() == nil && errors.Is(err, io.EOF):
			continue // kafka-go's answer to a fetch on a closed reader
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
	next := r.open()
	r.mu.Lock()
	old := r.cur
	r.cur, r.last = next, time.Now()
	r.mu.Unlock()
	r.renewed.Add(1)
	readerRenewals.Inc()
	st := old.Stats()
	r.log.Warn("consumer stalled with a backlog; replacing the Kafka reader",
		"quiet", quiet.Round(time.Second), "partition", st.Partition, "offset", st.Offset,
		"reader_lag", st.Lag, "rebalances", st.Rebalances, "errors", st.Errors)
	r.closing.Go(func() {
		if err := old.Close(); err != nil {
			r.log.Warn("closing the replaced Kafka reader", "err", err)
		}
	})
}

// Close closes the current reader, then waits up to grace for replaced
// readers still closing (a reader stuck for good is left behind).
func (r *Renewing) Close(grace time.Duration) error {
	err := r.reader().Close()
	done := make(chan struct{})
	go func() { r.closing.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		r.log.Warn("a replaced Kafka reader did not close", "waited", grace)
	}
	return err
}
