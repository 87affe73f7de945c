package auth

import (
	"context"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Users is what authentication needs from the database.
type Users interface {
	UserByToken(ctx context.Context, hash []byte) (protocol.User, error)
	// ExternalUser is not_found for a subject never seen.
	ExternalUser(ctx context.Context, issuer, subject string) (protocol.User, error)
	CreateExternalUser(ctx context.Context, issuer, subject, username string) (protocol.User, error)
}

// Authenticator turns the bearer token of a request or a hello frame into
// its user: one of Rookery's own session tokens, or, when JWTs are on, a
// JWT of the embedding product's identity provider, whose subject becomes
// a Rookery user the first time it is seen.
type Authenticator struct {
	users Users
	jwt   *JWTConfig

	// known maps a provider's subjects to their users, so that a JWT costs
	// a signature check and no query; entries live identityTTL.
	mu    sync.Mutex
	known map[[2]string]knownUser
}

type knownUser struct {
	user protocol.User
	exp  time.Time
}

// identityTTL bounds how long a subject's user is remembered; users are
// never deleted, so staleness costs nothing but memory.
const (
	identityTTL = 10 * time.Minute
	identityMax = 100_000
)

// NewAuthenticator returns an Authenticator; jwt nil turns JWTs off.
func NewAuthenticator(users Users, jwt *JWTConfig) *Authenticator {
	return &Authenticator{users: users, jwt: jwt, known: map[[2]string]knownUser{}}
}

// Authenticate returns the user of token and the hash that identifies the
// session (logout revokes the connections opened with it).
func (a *Authenticator) Authenticate(ctx context.Context, token string) (protocol.User, []byte, error) {
	hash := HashToken(token)
	if a.jwt == nil || !LooksLikeJWT(token) {
		u, err := a.users.UserByToken(ctx, hash)
		return u, hash, err
	}
	c, err := a.jwt.VerifyJWT(ctx, token)
	if err != nil {
		return protocol.User{}, nil, err
	}
	key := [2]string{c.Issuer, c.Subject}
	now := time.Now()
	a.mu.Lock()
	k, ok := a.known[key]
	a.mu.Unlock()
	if ok && now.Before(k.exp) {
		return k.user, hash, nil
	}
	u, err := a.users.ExternalUser(ctx, c.Issuer, c.Subject)
	if protocol.ErrorCode(err) == protocol.CodeNotFound {
		name, verr := protocol.NormalizeUsername(c.Username)
		if verr != nil {
			return protocol.User{}, nil, errNoUsername(a.jwt.UsernameClaim, verr)
		}
		u, err = a.users.CreateExternalUser(ctx, c.Issuer, c.Subject, name)
	}
	if err != nil {
		return protocol.User{}, nil, err
	}
	a.mu.Lock()
	if len(a.known) >= identityMax {
		clear(a.known)
	}
	a.known[key] = knownUser{user: u, exp: now.Add(identityTTL)}
	a.mu.Unlock()
	return u, hash, nil
}
