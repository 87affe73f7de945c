package store

import (
	"context"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// CreateAPIKey stores the hash of a new key.
func (s *Store) CreateAPIKey(ctx context.Context, name string, hash []byte, scopes []string) (protocol.APIKey, error) {
	k, err := s.q.CreateAPIKey(ctx, db.CreateAPIKeyParams{ID: newID(), Name: name, KeyHash: hash, Scopes: scopes})
	if err != nil {
		return protocol.APIKey{}, translate("create api key", err)
	}
	return protocol.APIKey{ID: k.ID.String(), Name: k.Name, Scopes: k.Scopes, CreatedAt: k.CreatedAt}, nil
}

// APIKeyByHash returns the unrevoked key of hash, or unauthorized.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (protocol.APIKey, error) {
	k, err := s.q.APIKeyByHash(ctx, hash)
	if db.IsNotFound(err) {
		return protocol.APIKey{}, protocol.Errorf(protocol.CodeUnauthorized, "invalid or revoked API key")
	}
	if err != nil {
		return protocol.APIKey{}, translate("api key", err)
	}
	return protocol.APIKey{ID: k.ID.String(), Name: k.Name, Scopes: k.Scopes}, nil
}

// APIKeys lists every key, revoked ones too.
func (s *Store) APIKeys(ctx context.Context) ([]protocol.APIKey, error) {
	rows, err := s.q.ListAPIKeys(ctx)
	if err != nil {
		return nil, translate("list api keys", err)
	}
	out := make([]protocol.APIKey, 0, len(rows))
	for _, r := range rows {
		k := protocol.APIKey{ID: r.ID.String(), Name: r.Name, Scopes: r.Scopes, CreatedAt: r.CreatedAt}
		if r.RevokedAt.Valid {
			k.RevokedAt = &r.RevokedAt.Time
		}
		out = append(out, k)
	}
	return out, nil
}

// RevokeAPIKey revokes a key; not_found when there is no such live key.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	kid, err := uuid.Parse(id)
	if err != nil {
		return protocol.Errorf(protocol.CodeNotFound, "no such API key")
	}
	n, err := s.q.RevokeAPIKey(ctx, kid)
	if err != nil {
		return translate("revoke api key", err)
	}
	if n == 0 {
		return protocol.Errorf(protocol.CodeNotFound, "no such live API key")
	}
	return nil
}
