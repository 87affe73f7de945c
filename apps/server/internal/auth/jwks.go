package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// JWKS is the public keys of an identity provider, fetched from its JWKS
// URL and cached. The set is fetched again every refresh, and at once when
// a token names a key the cache lacks (the provider rotated its keys), but
// not more often than minGap, so that tokens with made-up key ids cannot
// make the server hammer the provider. A fetch replaces the whole set: a
// key the provider withdrew stops working at the next fetch.
type JWKS struct {
	url     string
	refresh time.Duration
	minGap  time.Duration
	client  *http.Client
	log     *slog.Logger

	mu      sync.Mutex
	keys    map[string]crypto.PublicKey
	fetched time.Time // of the last attempt, successful or not
	loaded  time.Time // of the last success
	// fetching serialises fetches: one request goes out, the others wait.
	fetching chan struct{}
}

// NewJWKS returns a cache of the key set at url, fetched every refresh
// and on an unknown key id at most once per minGap.
func NewJWKS(log *slog.Logger, url string, refresh, minGap time.Duration) *JWKS {
	return &JWKS{url: url, refresh: refresh, minGap: minGap, log: log,
		client: &http.Client{Timeout: 5 * time.Second}, keys: map[string]crypto.PublicKey{},
		fetching: make(chan struct{}, 1)}
}

// ErrUnknownKey is the error of a token signed with a key the provider
// does not publish.
var ErrUnknownKey = errors.New("jwks: unknown signing key")

// Key returns the key with id kid.
func (j *JWKS) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	j.mu.Lock()
	k, ok := j.keys[kid]
	stale := time.Since(j.loaded) > j.refresh
	mayFetch := time.Since(j.fetched) >= j.minGap
	j.mu.Unlock()
	if ok && !stale {
		return k, nil
	}
	if !mayFetch {
		if ok {
			return k, nil // stale but the provider was just asked
		}
		return nil, ErrUnknownKey
	}
	if err := j.fetch(ctx); err != nil {
		j.log.Warn("jwks fetch failed", "url", j.url, "err", err)
		if ok {
			return k, nil // keep using a known key while the provider is down
		}
		return nil, fmt.Errorf("jwks: %w", err)
	}
	j.mu.Lock()
	k, ok = j.keys[kid]
	j.mu.Unlock()
	if !ok {
		return nil, ErrUnknownKey
	}
	return k, nil
}

func (j *JWKS) fetch(ctx context.Context) error {
	select {
	case j.fetching <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-j.fetching }()
	j.mu.Lock()
	recent := time.Since(j.fetched) < j.minGap
	if !recent {
		j.fetched = time.Now()
	}
	j.mu.Unlock()
	if recent {
		return nil // another request fetched while this one waited
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", j.url, resp.Status)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("decode key set: %w", err)
	}
	keys := make(map[string]crypto.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		pub, err := k.public()
		if err != nil {
			j.log.Warn("jwks: key skipped", "kid", k.Kid, "err", err)
			continue
		}
		keys[k.Kid] = pub
	}
	j.mu.Lock()
	j.keys, j.loaded = keys, time.Now()
	j.mu.Unlock()
	return nil
}

// jwk is one key of a JWK set (RFC 7517): RSA or EC P-256 public keys.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func (k jwk) public() (crypto.PublicKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("use %q is not sig", k.Use)
	}
	b64 := base64.RawURLEncoding
	switch k.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(k.N)
		e, err2 := b64.DecodeString(k.E)
		if err := errors.Join(err1, err2); err != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("bad RSA key")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits is too short", pub.N.BitLen())
		}
		return pub, nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, fmt.Errorf("curve %q not supported", k.Crv)
		}
		x, err1 := b64.DecodeString(k.X)
		y, err2 := b64.DecodeString(k.Y)
		if err := errors.Join(err1, err2); err != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("bad EC key")
		}
		// The parser checks that the point is on the curve.
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, fmt.Errorf("bad EC key: %w", err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("key type %q not supported", k.Kty)
}
