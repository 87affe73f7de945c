package persist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"
	"golang.org/x/time/rate"

	"github.com/rookery-chat/rookery/packages/db"
)

// Source is the consumer-group reader of the message log.
type Source interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
	Stats() kafka.ReaderStats
}

// DeadLetters takes records that can never be stored.
type DeadLetters interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

var (
	_ Source      = (*kafka.Reader)(nil)
	_ DeadLetters = (*kafka.Writer)(nil)
)

// Options tune a Persister.
type Options struct {
	BatchSize     int
	BatchTimeout  time.Duration
	MaxRowsPerSec float64 // 0: no cap
	RetryMin      time.Duration
	RetryMax      time.Duration
}

// Persister copies the message log into PostgreSQL.
type Persister struct {
	log     *slog.Logger
	opt     Options
	src     Source
	dlq     DeadLetters
	pool    *pgxpool.Pool
	q       *db.Queries
	known   *knownRefs
	limiter *rate.Limiter
	merger  *merger
	failing atomic.Value // string: what is failing now, "" when healthy
	// progress is when a batch's offsets were last committed (unix ns).
	progress atomic.Int64
}

// New returns a Persister reading src and writing to pool.
func New(log *slog.Logger, opt Options, src Source, dlq DeadLetters, pool *pgxpool.Pool) *Persister {
	p := &Persister{log: log, opt: opt, src: src, dlq: dlq, pool: pool, q: db.New(pool), known: newKnownRefs(1 << 17)}
	p.merger = newMerger(log, p.q, p.backoff())
	if opt.MaxRowsPerSec > 0 {
		p.limiter = rate.NewLimiter(rate.Limit(opt.MaxRowsPerSec), max(opt.BatchSize, int(opt.MaxRowsPerSec)))
	}
	p.failing.Store("")
	return p
}

// Failing says what keeps failing ("" when all is well), for readiness.
func (p *Persister) Failing() string { return p.failing.Load().(string) }

// LastProgress is when the persister last committed a batch (zero: never).
func (p *Persister) LastProgress() time.Time {
	if ns := p.progress.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Run consumes until ctx ends. One batch is collected and decoded while
// the previous one is written, so the CPU work of reading Kafka overlaps the
// database's. A batch being collected or waiting when ctx ends is abandoned
// (its offsets are not committed, so it is read again by whoever takes the
// partitions); a batch being written is finished, or abandoned the same way
// if the database does not answer in time. Beside them, the merger folds
// stored rows into the search index (merge.go).
func (p *Persister) Run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	// Bounded to one: a full channel holds the collector back, and the
	// backlog waits in Kafka.
	batches := make(chan batch, 1)
	var fetchErr error
	go func() {
		defer close(batches)
		fetchErr = p.collectLoop(ctx, batches)
	}()
	merged := make(chan struct{})
	go func() {
		defer close(merged)
		p.merger.run(ctx)
	}()
	var err error
	for b := range batches {
		if err = p.process(ctx, b); err != nil {
			break
		}
	}
	cancel()
	for range batches { // let the collector see ctx and exit
	}
	<-merged
	switch {
	case parent.Err() != nil:
		return nil
	case err != nil:
		return err
	default:
		return fmt.Errorf("persist: fetch: %w", fetchErr)
	}
}

// batch is a collected run of records, decoded.
type batch struct {
	msgs []kafka.Message
	rows []row           // the decodable records; row.src indexes msgs
	dead []kafka.Message // the undecodable ones, ready for the dead-letter topic
}

func (p *Persister) collectLoop(ctx context.Context, out chan<- batch) error {
	for {
		msgs, err := p.collect(ctx)
		if err != nil {
			return err
		}
		b := batch{msgs: msgs, rows: make([]row, 0, len(msgs))}
		for i, m := range msgs {
			r, err := decode(m.Value)
			if errors.Is(err, errNotLogged) {
				continue
			}
			if err != nil {
				b.dead = append(b.dead, p.deadLetter(m, err))
				continue
			}
			r.src = i
			b.rows = append(b.rows, r)
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// collect waits for one record, then gathers more until the batch is full
// or BatchTimeout has passed since the first. Kafka errors are retried
// like database ones: the persister waits out a broker outage.
func (p *Persister) collect(ctx context.Context) ([]kafka.Message, error) {
	var first kafka.Message
	stopping := func(error) bool { return ctx.Err() != nil }
	err := retry(ctx, p.log, "kafka-fetch", p.backoff(), stopping, func() error {
		var err error
		first, err = p.src.FetchMessage(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			p.failing.Store("kafka")
		case err == nil && p.Failing() == "kafka":
			p.failing.Store("")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	batch := make([]kafka.Message, 1, min(p.opt.BatchSize, 1024))
	batch[0] = first
	tctx, cancel := context.WithTimeout(ctx, p.opt.BatchTimeout)
	defer cancel()
	for len(batch) < p.opt.BatchSize {
		m, err := p.src.FetchMessage(tctx)
		if err != nil {
			if ctx.Err() != nil {
				return batch, err
			}
			break // time is up, or Kafka failed: store what we have
		}
		batch = append(batch, m)
	}
	return batch, nil
}

// process stores a batch, dead-letters what cannot be stored, then commits
// the offsets: in that order, so a crash anywhere repeats work but never
// loses it, and the repeat inserts nothing twice.
func (p *Persister) process(ctx context.Context, b batch) (err error) {
	ctx, span := startBatch(ctx, b.msgs)
	defer func() { endSpan(span, err) }()
	dead := b.dead
	if p.limiter != nil && len(b.rows) > 0 {
		if err := p.limiter.WaitN(ctx, len(b.rows)); err != nil {
			return err
		}
	}
	if len(b.rows) > 0 {
		bad, err := p.store(ctx, b.rows)
		if err != nil {
			return err
		}
		p.merger.poke()
		for _, r := range bad {
			dead = append(dead, p.deadLetter(b.msgs[r.src], r.err))
		}
	}
	if len(dead) > 0 {
		err := retry(ctx, p.log, "dead-letter", p.backoff(), never, func() error {
			return p.dlq.WriteMessages(ctx, dead...)
		})
		if err != nil {
			return err
		}
		deadLettered.Add(float64(len(dead)))
	}
	// The rows are committed in PostgreSQL: commit the offsets even if we
	// are shutting down, within a bound. An offset that cannot be committed
	// (Kafka down that long, or the partition moved to another member) only
	// means the batch is read again, and storing it again changes nothing.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitPatience)
	defer cancel()
	err = retry(cctx, p.log, "kafka-commit", p.backoff(), never, func() error {
		return p.src.CommitMessages(cctx, b.msgs...)
	})
	if err != nil {
		p.log.Warn("offsets not committed; the batch will be read again", "records", len(b.msgs), "err", err)
		return nil
	}
	p.progress.Store(time.Now().UnixNano())
	if p.Failing() == "kafka" {
		p.failing.Store("")
	}
	return nil
}

// commitPatience bounds the retries of one offset commit.
const commitPatience = 30 * time.Second

func (p *Persister) backoff() backoff { return backoff{min: p.opt.RetryMin, max: p.opt.RetryMax} }

func never(error) bool { return false }

func (p *Persister) deadLetter(m kafka.Message, why error) kafka.Message {
	p.log.Error("message can never be stored; sent to the dead-letter topic",
		"partition", m.Partition, "offset", m.Offset, "key", string(m.Key), "reason", why)
	return kafka.Message{Key: m.Key, Value: m.Value, Headers: []kafka.Header{
		{Key: "reason", Value: []byte(why.Error())},
		{Key: "source", Value: []byte(fmt.Sprintf("%s/%d/%d", m.Topic, m.Partition, m.Offset))},
	}}
}
