// Package store is the server's PostgreSQL adapter: it runs the sqlc queries
// of packages/db and translates rows into protocol types and driver errors
// into protocol error codes, so nothing above it sees pgx.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Store is the server's view of PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	q    *db.Queries
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool, q: db.New(pool)} }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// tx runs fn in a transaction.
func (s *Store) tx(ctx context.Context, fn func(q *db.Queries) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(s.q.WithTx(tx)) })
}

// translate maps a driver error onto the protocol's codes. Errors that are
// already *protocol.Error pass through; anything that is not a known data
// condition means the database is unreachable or failing: unavailable.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if db.IsPermanent(err) {
		return &protocol.Error{Code: protocol.CodeInternal, Message: "internal error", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return &protocol.Error{Code: protocol.CodeUnavailable, Message: "database unavailable", Err: fmt.Errorf("%s: %w", op, err)}
}

// ParseID parses a client-supplied id; a malformed one names nothing, so it
// is not_found rather than a hint about the id format.
func ParseID(kind, id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, protocol.Errorf(protocol.CodeNotFound, "no such %s", kind)
	}
	return u, nil
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }
