package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rookery-chat/rookery/packages/db"
)

// ceilingSessions is how many COPYs run at once in the ceiling: one per
// core of the machines the bench runs on.
const ceilingSessions = 2

// copyColumns are the columns the persister's COPY fills (CopyMessages).
const copyColumns = `id, room_id, seq, sender_id, body, ref, created_at, fence, kind, target_id, emoji, reaction_on, reply_to, mentions`

// pgCeiling measures how fast PostgreSQL alone stores rows like the
// persister's, with every index the schema has: n rows over
// ceilingSessions connections at once, each a binary COPY of a stream
// encoded before the clock starts, then the search index's pending list
// merged, as the persister's run is. No broker, no persister, next to no
// client work: the rate no persister can beat on this machine.
func pgCeiling(ctx context.Context, pool *pgxpool.Pool, q *db.Queries, sender uuid.UUID, tag string, n int) (rate, secs float64, err error) {
	per := n / ceilingSessions
	streams := make([][]byte, ceilingSessions)
	for s := range streams {
		r, err := q.CreateRoom(ctx, db.CreateRoomParams{ID: uuid.Must(uuid.NewV7()), Name: fmt.Sprintf("persist-%s-ceiling-%d", tag, s),
			Visibility: "public", CreatedBy: pgtype.UUID{Bytes: sender, Valid: true}})
		if err != nil {
			return 0, 0, err
		}
		streams[s] = copyStream(r.ID, sender, s*per, per)
	}
	conns := make([]*pgxpool.Conn, ceilingSessions)
	for s := range conns {
		if conns[s], err = pool.Acquire(ctx); err != nil {
			return 0, 0, err
		}
		defer conns[s].Release()
	}
	start := time.Now()
	errs := make([]error, ceilingSessions)
	var wg sync.WaitGroup
	for s, c := range conns {
		wg.Go(func() {
			_, errs[s] = c.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(streams[s]),
				"COPY messages ("+copyColumns+") FROM STDIN (FORMAT binary)")
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, 0, fmt.Errorf("ceiling copy: %w", err)
	}
	if _, err := q.MergeSearchPending(ctx); err != nil {
		return 0, 0, fmt.Errorf("ceiling: merge the search index's pending list: %w", err)
	}
	secs = time.Since(start).Seconds()
	return float64(per*ceilingSessions) / secs, secs, nil
}

// copyStream is count rows of room, seqs 1…count, in COPY's binary format,
// with the bodies and refs the persist scenario produces (numbered from
// first+1).
func copyStream(room, sender uuid.UUID, first, count int) []byte {
	var b bytes.Buffer
	b.WriteString("PGCOPY\n\xff\r\n\x00")
	b.Write(make([]byte, 8)) // flags, header extension length
	// timestamptz: microseconds since 2000-01-01 UTC.
	now := time.Now().Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Microseconds()
	u16 := func(v uint16) { b.Write(binary.BigEndian.AppendUint16(nil, v)) }
	u32 := func(v uint32) { b.Write(binary.BigEndian.AppendUint32(nil, v)) }
	field := func(v []byte) { u32(uint32(len(v))); b.Write(v) }
	null := func() { u32(0xffffffff) }
	for i := 1; i <= count; i++ {
		id := uuid.Must(uuid.NewV7())
		u16(14)
		field(id[:])
		field(room[:])
		field(binary.BigEndian.AppendUint64(nil, uint64(i)))
		field(sender[:])
		field(fmt.Appendf(nil, "persist benchmark message %d", first+i))
		field(fmt.Appendf(nil, "r%d", first+i))
		field(binary.BigEndian.AppendUint64(nil, uint64(now)))
		field([]byte{0}) // fence
		field([]byte("message"))
		for range 5 { // target_id, emoji, reaction_on, reply_to, mentions
			null()
		}
	}
	u16(0xffff)
	return b.Bytes()
}
