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
	q       *db.Queries
	limiter *rate.Limiter
	failing atomic.Value // string: what is failing now, "" when healthy
}

// New returns a Persister reading src and writing to pool.
func New(log *slog.Logger, opt Options, src Source, dlq DeadLetters, pool *pgxpool.Pool) *Persister {
	p := &Persister{log: log, opt: opt, src: src, dlq: dlq, q: db.New(pool)}
	if opt.MaxRowsPerSec > 0 {
		p.limiter = rate.NewLimiter(rate.Limit(opt.MaxRowsPerSec), max(opt.BatchSize, int(opt.MaxRowsPerSec)))
	}
	p.failing.Store("")
	return p
}

// Failing says what keeps failing ("" when all is well), for readiness.
func (p *Persister) Failing() string { return p.failing.Load().(string) }

// Run consumes until ctx ends. A batch being collected when ctx ends is
// abandoned (its offsets are not committed, so it is read again by whoever
// takes the partitions); a batch being written is finished, or abandoned
// the same way if the database does not answer in time.
func (p *Persister) Run(ctx context.Context) error {
	for {
		batch, err := p.collect(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("persist: fetch: %w", err)
		}
		if err := p.process(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		consumerLag.Set(float64(p.src.Stats().Lag))
	}
}

// collect waits for one record, then gathers more until the batch is full
// or BatchTimeout has passed since the first.
func (p *Persister) collect(ctx context.Context) ([]kafka.Message, error) {
	first, err := p.src.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	batch := []kafka.Message{first}
	tctx, cancel := context.WithTimeout(ctx, p.opt.BatchTimeout)
	defer cancel()
	for len(batch) < p.opt.BatchSize {
		m, err := p.src.FetchMessage(tctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				break
			}
			return batch, err
		}
		batch = append(batch, m)
	}
	return batch, nil
}

// process stores a batch, dead-letters what cannot be stored, then commits
// the offsets: in that order, so a crash anywhere repeats work but never
// loses it, and the repeat inserts nothing twice.
func (p *Persister) process(ctx context.Context, batch []kafka.Message) error {
	rows := make([]row, 0, len(batch))
	var dead []kafka.Message
	for i, m := range batch {
		r, err := decode(m.Value)
		if err != nil {
			dead = append(dead, p.deadLetter(m, err))
			continue
		}
		r.src = i
		rows = append(rows, r)
	}
	if p.limiter != nil && len(rows) > 0 {
		if err := p.limiter.WaitN(ctx, len(rows)); err != nil {
			return err
		}
	}
	if len(rows) > 0 {
		bad, err := p.write(ctx, rows)
		if err != nil {
			return err
		}
		for _, b := range bad {
			dead = append(dead, p.deadLetter(batch[b.src], b.err))
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
	// are shutting down, within a bound.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return retry(cctx, p.log, "kafka-commit", p.backoff(), never, func() error {
		return p.src.CommitMessages(cctx, batch...)
	})
}

func (p *Persister) backoff() backoff { return backoff{min: p.opt.RetryMin, max: p.opt.RetryMax} }

func never(error) bool { return false }

type badRow struct {
	src int
	err error
}

// write inserts rows in one statement, retrying while PostgreSQL is down.
// A permanent error (a constraint no retry can satisfy) splits the batch to
// find the rows at fault, which are returned; the rest are stored.
func (p *Persister) write(ctx context.Context, rows []row) ([]badRow, error) {
	err := retry(ctx, p.log, "postgres", p.backoff(), db.IsPermanent, func() error {
		start := time.Now()
		n, err := p.q.PersistMessages(ctx, params(rows))
		if err != nil {
			p.failing.Store("postgres")
			return err
		}
		p.failing.Store("")
		writeLatency.Observe(time.Since(start).Seconds())
		batchSize.Observe(float64(len(rows)))
		rowsWritten.Add(float64(n))
		return nil
	})
	if err == nil || !db.IsPermanent(err) {
		return nil, err
	}
	if len(rows) == 1 {
		return []badRow{{rows[0].src, err}}, nil
	}
	mid := len(rows) / 2
	left, err := p.write(ctx, rows[:mid])
	if err != nil {
		return nil, err
	}
	right, err := p.write(ctx, rows[mid:])
	if err != nil {
		return nil, err
	}
	return append(left, right...), nil
}

func (p *Persister) deadLetter(m kafka.Message, why error) kafka.Message {
	p.log.Error("message can never be stored; sent to the dead-letter topic",
		"partition", m.Partition, "offset", m.Offset, "key", string(m.Key), "reason", why)
	return kafka.Message{Key: m.Key, Value: m.Value, Headers: []kafka.Header{
		{Key: "reason", Value: []byte(why.Error())},
		{Key: "source", Value: []byte(fmt.Sprintf("%s/%d/%d", m.Topic, m.Partition, m.Offset))},
	}}
}
