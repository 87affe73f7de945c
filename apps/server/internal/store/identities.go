package store

import (
	"context"

	"github.com/rookery-chat/rookery/apps/server/internal/auth"
	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// ExternalUser returns the user of an identity provider's subject;
// not_found when the subject was never seen.
func (s *Store) ExternalUser(ctx context.Context, issuer, subject string) (protocol.User, error) {
	u, err := s.q.ExternalUser(ctx, db.ExternalUserParams{Issuer: issuer, Subject: subject})
	if db.IsNotFound(err) {
		return protocol.User{}, protocol.Errorf(protocol.CodeNotFound, "no such identity")
	}
	if err != nil {
		return protocol.User{}, translate("external user", err)
	}
	return protocol.User{ID: u.ID.String(), Username: u.Username, Bot: u.Bot}, nil
}

// CreateExternalUser makes the user of a subject seen for the first time.
// It has no password (auth.NoPassword): it signs in only through its provider.
// When two servers see the subject at once, the second gets the first's
// user; a username someone else has is a conflict.
func (s *Store) CreateExternalUser(ctx context.Context, issuer, subject, username string) (protocol.User, error) {
	var out protocol.User
	err := s.tx(ctx, func(q *db.Queries) error {
		u, err := q.CreateUser(ctx, db.CreateUserParams{ID: newID(), Username: username, PasswordHash: auth.NoPassword})
		if err != nil {
			return err
		}
		out = protocol.User{ID: u.ID.String(), Username: u.Username}
		return q.CreateExternalIdentity(ctx, db.CreateExternalIdentityParams{Issuer: issuer, Subject: subject, UserID: u.ID})
	})
	if db.IsUniqueViolation(err) {
		if u, err := s.ExternalUser(ctx, issuer, subject); err == nil {
			return u, nil // another server made it a moment ago
		}
		return protocol.User{}, protocol.Errorf(protocol.CodeConflict, "username %q is taken", username)
	}
	if err != nil {
		return protocol.User{}, translate("create external user", err)
	}
	return out, nil
}

// CreateBot makes a bot user of the server API, or returns the bot of
// that name if it exists; a person's username is a conflict.
func (s *Store) CreateBot(ctx context.Context, username string) (protocol.User, bool, error) {
	u, err := s.q.CreateUser(ctx, db.CreateUserParams{ID: newID(), Username: username, PasswordHash: auth.NoPassword, Bot: true})
	if err == nil {
		return protocol.User{ID: u.ID.String(), Username: u.Username, Bot: true}, true, nil
	}
	if !db.IsUniqueViolation(err) {
		return protocol.User{}, false, translate("create bot", err)
	}
	old, err := s.q.GetUserByUsername(ctx, username)
	if err != nil {
		return protocol.User{}, false, translate("get bot", err)
	}
	if !old.Bot {
		return protocol.User{}, false, protocol.Errorf(protocol.CodeConflict, "username %q is taken by a person", username)
	}
	return protocol.User{ID: old.ID.String(), Username: old.Username, Bot: true}, false, nil
}
