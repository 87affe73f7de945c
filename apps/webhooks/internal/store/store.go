// Package store is the webhook dispatcher's PostgreSQL adapter.
package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rookery-chat/rookery/apps/webhooks/internal/dispatch"
	"github.com/rookery-chat/rookery/packages/db"
)

var _ dispatch.Store = (*Store)(nil)

// Store reads the webhooks and keeps their cursors.
type Store struct{ q *db.Queries }

// New returns a Store over pool.
func New(pool *pgxpool.Pool) *Store { return &Store{q: db.New(pool)} }

// Webhooks lists every webhook with its cursor.
func (s *Store) Webhooks(ctx context.Context) ([]dispatch.Hook, error) {
	rows, err := s.q.AllWebhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	out := make([]dispatch.Hook, 0, len(rows))
	for _, r := range rows {
		out = append(out, dispatch.Hook{ID: r.ID.String(), Room: r.RoomID.String(), URL: r.Url, Secret: r.Secret,
			Cursor: r.DeliveredSeq, Created: r.CreatedAt})
	}
	return out, nil
}

// SetCursor records that the webhook has every event up to seq (the
// cursor never moves back).
func (s *Store) SetCursor(ctx context.Context, id string, seq int64) error {
	wid, err := uuid.Parse(id)
	if err != nil {
		return fmt.Errorf("set cursor: %w", err)
	}
	if err := s.q.SetWebhookCursor(ctx, db.SetWebhookCursorParams{ID: wid, Seq: seq}); err != nil {
		return fmt.Errorf("set cursor: %w", err)
	}
	return nil
}
