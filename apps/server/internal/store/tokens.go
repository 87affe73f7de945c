package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// CreateToken stores the hash of a new bearer token.
func (s *Store) CreateToken(ctx context.Context, hash []byte, userID string, expires time.Time) error {
	id, err := uuid.Parse(userID)
	if err != nil {
		return translate("create token", err)
	}
	return translate("create token", s.q.CreateToken(ctx, db.CreateTokenParams{TokenHash: hash, UserID: id, ExpiresAt: expires}))
}

// UserByToken returns the owner of an unexpired token, or unauthorized.
func (s *Store) UserByToken(ctx context.Context, hash []byte) (protocol.User, error) {
	u, err := s.q.GetTokenUser(ctx, hash)
	if db.IsNotFound(err) {
		return protocol.User{}, protocol.Errorf(protocol.CodeUnauthorized, "invalid or expired token")
	}
	if err != nil {
		return protocol.User{}, translate("token user", err)
	}
	return protocol.User{ID: u.ID.String(), Username: u.Username, Bot: u.Bot}, nil
}

// DeleteToken revokes a token.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	return translate("delete token", s.q.DeleteToken(ctx, hash))
}

// DeleteExpiredTokens removes expired tokens and says how many.
func (s *Store) DeleteExpiredTokens(ctx context.Context) (int64, error) {
	n, err := s.q.DeleteExpiredTokens(ctx)
	return n, translate("delete expired tokens", err)
}
