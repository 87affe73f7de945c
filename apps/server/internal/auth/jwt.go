package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// JWTConfig is how tokens of an embedding product's identity provider are
// checked. A zero Secret and JWKSURL turn JWTs off.
type JWTConfig struct {
	// Secret verifies HS256 tokens.
	Secret []byte
	// JWKS verifies RS256 and ES256 tokens with the provider's keys.
	JWKS *JWKS
	// Issuer and Audience, when set, must match iss and aud.
	Issuer   string
	Audience string
	// UsernameClaim names the claim holding the username a new user gets.
	UsernameClaim string
	// Leeway tolerates clock skew in exp and nbf.
	Leeway time.Duration
}

// Claims is what a verified token says about its user.
type Claims struct {
	Issuer, Subject, Username string
}

// VerifyJWT checks a token's signature, algorithm, exp (required), nbf,
// iss and aud, and returns its subject and username claim.
func (c JWTConfig) VerifyJWT(ctx context.Context, token string) (Claims, error) {
	var methods []string
	if len(c.Secret) > 0 {
		methods = append(methods, "HS256")
	}
	if c.JWKS != nil {
		methods = append(methods, "RS256", "ES256")
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithExpirationRequired(), jwt.WithLeeway(c.Leeway)}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	if c.Audience != "" {
		opts = append(opts, jwt.WithAudience(c.Audience))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(opts...).ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if t.Method.Alg() == "HS256" {
			return c.Secret, nil
		}
		kid, _ := t.Header["kid"].(string)
		return c.JWKS.Key(ctx, kid)
	})
	if err != nil {
		return Claims{}, protocol.Wrap(protocol.CodeUnauthorized, err, jwtProblem(err))
	}
	var out Claims
	out.Issuer, _ = claims.GetIssuer()
	out.Subject, _ = claims.GetSubject()
	if out.Subject == "" {
		return Claims{}, protocol.Errorf(protocol.CodeUnauthorized, "token has no subject")
	}
	out.Username, _ = claims[c.UsernameClaim].(string)
	return out, nil
}

// jwtProblem is what the client is told about a refused token: which
// check failed, never the server's keys or configuration.
func jwtProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token issuer not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token audience not accepted"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token lacks a required claim (exp)"
	}
	return "invalid token"
}

// LooksLikeJWT tells a JWT (three dot-separated parts) from Rookery's own
// opaque tokens, which have no dot.
func LooksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2
}

// errNoUsername is the error of a first sight of a subject whose token
// lacks a valid username.
func errNoUsername(claim string, err error) error {
	return protocol.Errorf(protocol.CodeUnauthorized, "token's %q claim is not a valid username: %v", claim, err)
}
