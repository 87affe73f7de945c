package store

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// CreateUser stores a new account; a taken username is a conflict.
func (s *Store) CreateUser(ctx context.Context, username, passwordHash string) (protocol.User, error) {
	u, err := s.q.CreateUser(ctx, db.CreateUserParams{ID: newID(), Username: username, PasswordHash: passwordHash})
	if db.IsUniqueViolation(err) {
		return protocol.User{}, protocol.Errorf(protocol.CodeConflict, "username %q is taken", username)
	}
	if err != nil {
		return protocol.User{}, translate("create user", err)
	}
	return protocol.User{ID: u.ID.String(), Username: u.Username, Bot: u.Bot}, nil
}

// Credentials returns the user and password hash for a login; an unknown
// username is not_found (the caller must not tell the client so).
func (s *Store) Credentials(ctx context.Context, username string) (protocol.User, string, error) {
	u, err := s.q.GetUserByUsername(ctx, username)
	if db.IsNotFound(err) {
		return protocol.User{}, "", protocol.Errorf(protocol.CodeNotFound, "no such user")
	}
	if err != nil {
		return protocol.User{}, "", translate("get user", err)
	}
	return protocol.User{ID: u.ID.String(), Username: u.Username, Bot: u.Bot}, u.PasswordHash, nil
}

// UserByName finds a user by (normalised) username.
func (s *Store) UserByName(ctx context.Context, username string) (protocol.User, uuid.UUID, error) {
	u, err := s.q.GetUserByUsername(ctx, username)
	if db.IsNotFound(err) {
		return protocol.User{}, uuid.Nil, protocol.Errorf(protocol.CodeNotFound, "no such user %q", username)
	}
	if err != nil {
		return protocol.User{}, uuid.Nil, translate("get user", err)
	}
	return protocol.User{ID: u.ID.String(), Username: u.Username, Bot: u.Bot}, u.ID, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// SearchUsers lists up to max users whose name starts with prefix.
func (s *Store) SearchUsers(ctx context.Context, prefix string, max int32) ([]protocol.User, error) {
	rows, err := s.q.SearchUsers(ctx, db.SearchUsersParams{Pattern: likeEscaper.Replace(prefix) + "%", MaxRows: max})
	if err != nil {
		return nil, translate("search users", err)
	}
	out := make([]protocol.User, 0, len(rows))
	for _, r := range rows {
		out = append(out, protocol.User{ID: r.ID.String(), Username: r.Username, Bot: r.Bot})
	}
	return out, nil
}

// UserNamed finds a user by (normalised) username.
func (s *Store) UserNamed(ctx context.Context, username string) (protocol.User, error) {
	u, _, err := s.UserByName(ctx, username)
	return u, err
}
