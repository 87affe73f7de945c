package main

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// The ceiling's hand-encoded COPY stream must store the rows the persister
// would: every seq once, the bodies numbered across the sessions, the time
// of the run, and findable by search (the index's work is what it
// measures).
func TestPGCeilingStoresThePersistersRows(t *testing.T) {
	ctx := testenv.Ctx(t)
	pool, err := db.Open(ctx, testenv.DatabaseURL(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	q := db.New(pool)
	user, _, err := seedRoom(ctx, q, "ceiling")
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	before := time.Now().Add(-time.Second)
	rate, secs, err := pgCeiling(ctx, pool, q, uuid.MustParse(user.ID), "ceiling", n)
	if err != nil {
		t.Fatal(err)
	}
	if rate <= 0 || secs <= 0 {
		t.Fatalf("rate %v over %v s", rate, secs)
	}
	var rooms, rows, seqs, found int
	var first, last time.Time
	err = pool.QueryRow(ctx, `
		SELECT count(DISTINCT m.room_id), count(*), count(DISTINCT (m.room_id, m.seq)) FILTER (WHERE m.seq BETWEEN 1 AND $1),
		       count(*) FILTER (WHERE m.search @@ plainto_tsquery('english', 'benchmark message')),
		       min(m.created_at), max(m.created_at)
		FROM messages m JOIN rooms r ON r.id = m.room_id
		WHERE r.name LIKE 'persist-ceiling-ceiling-%' AND m.kind = 'message' AND NOT m.fence AND m.sender_id = $2`,
		n/ceilingSessions, uuid.MustParse(user.ID)).Scan(&rooms, &rows, &seqs, &found, &first, &last)
	if err != nil {
		t.Fatal(err)
	}
	if rooms != ceilingSessions || rows != n || seqs != n || found != n {
		t.Fatalf("stored %d rows in %d rooms (%d distinct seqs, %d found by search), want %d in %d", rows, rooms, seqs, found, n, ceilingSessions)
	}
	if first.Before(before) || last.After(time.Now()) {
		t.Fatalf("created_at from %v to %v, want the time of the run (%v)", first, last, before)
	}
	for _, body := range []string{"persist benchmark message 1", "persist benchmark message 2000"} {
		var c int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE body = $1 AND sender_id = $2`, body, uuid.MustParse(user.ID)).Scan(&c); err != nil {
			t.Fatal(err)
		}
		if c != 1 {
			t.Fatalf("%d rows with body %q, want 1", c, body)
		}
	}
}
