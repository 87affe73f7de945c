package persist

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/db"
)

// badRow is a row PostgreSQL can never take, and why.
type badRow struct {
	src int
	err error
}

// store writes a batch's rows and returns those that can never be stored.
//
// Rows whose room or sender does not exist are set aside first: messages has
// no foreign keys (migration 00002), the check is two set lookups per batch.
// The rest take the fast path, one COPY and one update of the rooms in a
// transaction. A batch the fast path cannot take whole, because it repeats
// rows already stored (a replay after a crash) or PostgreSQL rejects a row,
// goes through write, which skips duplicates and isolates bad rows.
func (p *Persister) store(ctx context.Context, rows []row) ([]badRow, error) {
	rows, bad, err := p.checkRefs(ctx, rows)
	if err != nil || len(rows) == 0 {
		return bad, err
	}
	err = retry(ctx, p.log, "postgres", p.backoff(), db.IsPermanent, func() error {
		return p.copyBatch(ctx, rows)
	})
	if err == nil || !db.IsPermanent(err) {
		return bad, err
	}
	if !db.IsUniqueViolation(err) {
		p.log.Warn("COPY rejected the batch; storing it row-checked", "rows", len(rows), "err", err)
	}
	slowBatches.Inc()
	more, err := p.write(ctx, rows)
	return append(bad, more...), err
}

// copyBatch is the fast path: every row is new and valid.
func (p *Persister) copyBatch(ctx context.Context, rows []row) (err error) {
	ctx, span := tracer.Start(ctx, "postgres.copy", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.Int("db.rows", len(rows))))
	defer func() { endSpan(span, err) }()
	start := time.Now()
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		q := p.q.WithTx(tx)
		if _, err := q.CopyMessages(ctx, copyParams(rows)); err != nil {
			return fmt.Errorf("copy messages: %w", err)
		}
		if err := q.AdvanceRooms(ctx, advanceParams(rows)); err != nil {
			return fmt.Errorf("advance rooms: %w", err)
		}
		if hasApplicable(rows) {
			return applyEvents(ctx, q, rows)
		}
		return nil
	})
	if err != nil {
		if !db.IsPermanent(err) {
			p.failing.Store("postgres")
		}
		return err
	}
	p.failing.Store("")
	writeLatency.Observe(time.Since(start).Seconds())
	batchSize.Observe(float64(len(rows)))
	rowsWritten.Add(float64(len(rows)))
	return nil
}

// write inserts rows in one statement that skips duplicates, retrying while
// PostgreSQL is down. A permanent error (a row no retry can fix) splits the
// batch to find the rows at fault, which are returned; the rest are stored.
func (p *Persister) write(ctx context.Context, rows []row) ([]badRow, error) {
	err := retry(ctx, p.log, "postgres", p.backoff(), db.IsPermanent, func() (err error) {
		ctx, span := tracer.Start(ctx, "postgres.insert", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.Int("db.rows", len(rows))))
		defer func() { endSpan(span, err) }()
		start := time.Now()
		n, err := p.q.PersistMessages(ctx, params(rows))
		if err == nil && hasApplicable(rows) {
			// Applied to every row, not only those inserted now: a crash
			// may have come between a row's insert and its application.
			err = applyEvents(ctx, p.q, rows)
		}
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

// checkRefs splits rows into those that can be stored and those that can
// never be (their room or sender does not exist), and drops the rows an
// epoch fence closed out: a row whose epoch is older than one already
// stored for its room, or one earlier in the batch, comes after that
// epoch's fence (or first message) in the log, so its send was refused and
// sent again under a new seq, or was never acknowledged. Senders seen to
// exist are remembered (users are never deleted); rooms are read every
// batch, for their newest stored seq.
func (p *Persister) checkRefs(ctx context.Context, rows []row) ([]row, []badRow, error) {
	var rooms, users []uuid.UUID
	for _, r := range rows {
		rooms = append(rooms, r.room)
		if !r.fence && !p.known.has(r.sender) {
			users = append(users, r.sender)
		}
	}
	rooms, users = compactIDs(rooms), compactIDs(users)
	epochs := make(map[uuid.UUID]int64, len(rooms))
	userOK := make(map[uuid.UUID]bool, len(users))
	err := retry(ctx, p.log, "postgres", p.backoff(), never, func() error {
		found, err := p.q.RoomPositions(ctx, rooms)
		if err != nil {
			p.failing.Store("postgres")
			return fmt.Errorf("check rooms: %w", err)
		}
		for _, f := range found {
			epochs[f.ID] = bus.EpochOf(f.LastSeq)
		}
		if len(users) == 0 {
			return nil
		}
		ids, err := p.q.ExistingUsers(ctx, users)
		if err != nil {
			p.failing.Store("postgres")
			return fmt.Errorf("check senders: %w", err)
		}
		for _, id := range ids {
			userOK[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for id := range userOK {
		p.known.add(id)
	}
	var bad []badRow
	ok := make([]row, 0, len(rows))
	for _, r := range rows {
		top, exists := epochs[r.room]
		switch {
		case !exists:
			bad = append(bad, badRow{r.src, fmt.Errorf("room %s does not exist", r.room)})
		case !r.fence && !p.known.has(r.sender):
			bad = append(bad, badRow{r.src, fmt.Errorf("sender %s does not exist", r.sender)})
		case bus.EpochOf(r.seq) < top:
			fencedOut.Inc()
			p.log.Info("message of a fenced epoch dropped", "room", r.room, "seq", r.seq, "id", r.id)
		default:
			epochs[r.room] = max(top, bus.EpochOf(r.seq))
			ok = append(ok, r)
		}
	}
	return ok, bad, nil
}

func compactIDs(ids []uuid.UUID) []uuid.UUID {
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return slices.Compact(ids)
}

// knownRefs is a bounded set of room and user ids known to exist. When full
// it starts over: a forgotten id costs one lookup, never a wrong answer.
type knownRefs struct {
	max int
	ids map[uuid.UUID]struct{}
}

func newKnownRefs(max int) *knownRefs { return &knownRefs{max: max, ids: map[uuid.UUID]struct{}{}} }

func (k *knownRefs) has(id uuid.UUID) bool { _, ok := k.ids[id]; return ok }

func (k *knownRefs) add(id uuid.UUID) {
	if len(k.ids) >= k.max {
		clear(k.ids)
	}
	k.ids[id] = struct{}{}
}
