package main_test

import (
	"context"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// TestSearchIndexPendingListIsMerged: the persister folds the rows it
// stores into the search index itself, so the index's pending list does
// not wait for PostgreSQL's own merges (an inserting backend's, once the
// list passes gin_pending_list_limit, or autovacuum's, turned off here).
func TestSearchIndexPendingListIsMerged(t *testing.T) {
	f := newFixture(t, testenv.DatabaseURL(t))
	ctx := testenv.Ctx(t)
	// pgstattuple ships with PostgreSQL (contrib); it reads the pending list.
	if _, err := f.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pgstattuple`); err != nil {
		t.Fatalf("the test reads the pending list with pgstattuple: %v", err)
	}
	if _, err := f.pool.Exec(ctx, `ALTER TABLE messages SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	f.produce(t, 1, n)
	_, base := f.startAt(t, "persister", "BATCH_SIZE=500")
	f.waitCount(t, n, time.Minute)
	f.checkExactlyOnce(t, n)

	deadline := time.Now().Add(30 * time.Second)
	var pages, tuples int64
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f.pool.QueryRow(qctx, `SELECT pending_pages, pending_tuples FROM pgstatginindex('messages_search')`).
			Scan(&pages, &tuples)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if pages == 0 && tuples == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the search index still has %d pending pages (%d entries) 30 s after the rows were stored", pages, tuples)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by deadline
	}
	if got := metric(t, base, "rookery_persister_search_merged_pages_total"); got < 1 {
		t.Fatalf("merged pages reported: %v, want ≥ 1", got)
	}
	// The merged rows are found through the index.
	var found int64
	err := f.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE room_id = $1 AND kind = 'message'
		AND search @@ websearch_to_tsquery('english', 'message')`, f.room).Scan(&found)
	if err != nil || found != n {
		t.Fatalf("search for 'message' found %d rows (err %v), want %d", found, err, n)
	}
}
