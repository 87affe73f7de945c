package persist

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/rookery-chat/rookery/packages/db"
)

var searchMerged = promauto.NewCounter(prometheus.CounterOpts{
	Name: "rookery_persister_search_merged_pages_total",
	Help: "Pages of the search index's pending list merged into the index by the persister's merger."})

// pendingMerger is what the merger calls: db.Queries.MergeSearchPending.
type pendingMerger interface {
	MergeSearchPending(ctx context.Context) (int64, error)
}

var _ pendingMerger = (*db.Queries)(nil)

// merger keeps the search index's pending list short from a PostgreSQL
// backend of its own.
//
// The search index (GIN) takes a COPY's rows into a pending list and merges
// that list into the index when it outgrows gin_pending_list_limit: left to
// itself, the backend that inserts does the merge, so one batch in several
// stalls for hundreds of milliseconds while the other core idles. A merge
// already under way makes inserting backends skip theirs, so merging here,
// after each stored batch, moves that work off the store path and onto the
// other core, and keeps searches from scanning a long pending list.
type merger struct {
	log  *slog.Logger
	q    pendingMerger
	b    backoff
	wake chan struct{} // one pending wake-up; more coalesce into it
}

func newMerger(log *slog.Logger, q pendingMerger, b backoff) *merger {
	return &merger{log: log, q: q, b: b, wake: make(chan struct{}, 1)}
}

// poke asks for a merge after the current one, never blocking the caller.
func (m *merger) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// run merges once per poke (pokes during a merge make one more), and again
// at once while a merge finds pages, until ctx ends. If the merge cannot ever succeed here (the persister's role does not
// own the index, or the index is not there) it says so once and stops: the
// inserting backends then merge as PostgreSQL does by default.
func (m *merger) run(ctx context.Context) {
	b := m.b
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		}
		pages, err := m.q.MergeSearchPending(ctx)
		switch {
		case err == nil:
			searchMerged.Add(float64(pages))
			b = m.b
			if pages > 0 {
				m.poke() // rows keep coming: merge while they do
			}
			continue
		case ctx.Err() != nil:
			return
		case mergeImpossible(err):
			m.log.Warn("search index pending list left to PostgreSQL's own merges", "err", err)
			return
		}
		wait := b.next()
		m.log.Warn("search index merge failed; trying again after the next batch", "in", wait, "err", err)
		retries.WithLabelValues("search-merge").Inc()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// mergeImpossible reports errors no retry fixes: no privilege (42501), no
// such index (42P01, 42704), not a GIN index (42809), or a server in
// recovery (55000).
func mergeImpossible(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "42501", "42P01", "42704", "42809", "55000":
		return true
	}
	return false
}
