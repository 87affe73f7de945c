package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// tokenBytes is 256 bits of randomness.
const tokenBytes = 32

// NewToken returns a fresh bearer token and the hash to store for it.
func NewToken() (token string, hash []byte, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("new token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is what is stored and looked up for a token. A fast hash is
// right here: the token has 256 bits of entropy, so there is nothing to
// brute-force.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// APIKeyPrefix starts every key of the server API, so that a key is told
// from a session token at a glance (and by secret scanners).
const APIKeyPrefix = "rk_"

// NewAPIKey returns a fresh server API key and the hash to store for it.
func NewAPIKey() (key string, hash []byte, err error) {
	tok, _, err := NewToken()
	if err != nil {
		return "", nil, err
	}
	key = APIKeyPrefix + tok
	return key, HashToken(key), nil
}
