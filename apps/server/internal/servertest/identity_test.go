package servertest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// idp is a test identity provider: it signs tokens and serves its public
// keys as a JWKS, whose keys a test can rotate.
type idp struct {
	srv    *httptest.Server
	secret []byte

	mu      sync.Mutex
	rsa     map[string]*rsa.PrivateKey
	ec      map[string]*ecdsa.PrivateKey
	gone    map[string]bool // withdrawn: can sign, not published
	fetches int
}

func newIDP(t *testing.T) *idp {
	p := &idp{secret: []byte(strings.Repeat("s3cret-", 6)), rsa: map[string]*rsa.PrivateKey{}, ec: map[string]*ecdsa.PrivateKey{}, gone: map[string]bool{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.fetches++
		b64 := base64.RawURLEncoding
		var keys []map[string]string
		for kid, k := range p.rsa {
			if p.gone[kid] {
				continue
			}
			keys = append(keys, map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
				"n": b64.EncodeToString(k.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		for kid, k := range p.ec {
			if p.gone[kid] {
				continue
			}
			x, y := make([]byte, 32), make([]byte, 32)
			k.X.FillBytes(x)
			k.Y.FillBytes(y)
			keys = append(keys, map[string]string{"kty": "EC", "kid": kid, "crv": "P-256",
				"x": b64.EncodeToString(x), "y": b64.EncodeToString(y)})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// addRSA publishes a new RSA key; replace withdraws every other key.
func (p *idp) addRSA(t *testing.T, kid string, replace bool) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if replace {
		for kid := range p.rsa {
			p.gone[kid] = true
		}
		for kid := range p.ec {
			p.gone[kid] = true
		}
	}
	p.rsa[kid] = k
}

func (p *idp) addEC(t *testing.T, kid string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ec[kid] = k
}

// claims are a valid token's claims for subject sub, named name.
func claims(sub, name string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": "https://idp.test", "aud": "rookery", "sub": sub, "preferred_username": name,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// sign signs c with alg ("HS256", "RS256", "ES256") and key kid.
func (p *idp) sign(t *testing.T, alg, kid string, c jwt.MapClaims) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var tok *jwt.Token
	var key any
	switch alg {
	case "HS256":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodHS256, c), p.secret
	case "RS256":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodRS256, c), p.rsa[kid]
	case "ES256":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodES256, c), p.ec[kid]
	}
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (p *idp) vars() []string {
	return []string{"JWT_HS256_SECRET", string(p.secret), "JWT_JWKS_URL", p.srv.URL, "JWT_ISSUER", "https://idp.test",
		"JWT_AUDIENCE", "rookery", "JWT_JWKS_REFETCH_GAP", "0s", "JWT_LEEWAY", "0s"}
}

// TestJWTIdentity: tokens of an embedding product's identity provider sign
// users in over HTTP and WebSocket, are refused when expired, early, from
// another issuer or audience, forged, or signed with a withdrawn key, and
// the subject's user is made once, on first sight.
func TestJWTIdentity(t *testing.T) {
	c := servertest.NewCluster(t)
	p := newIDP(t)
	p.addRSA(t, "k1", false)
	p.addEC(t, "e1")
	s1 := c.Start(t, "s1", p.vars()...)
	s2 := c.Start(t, "s2", p.vars()...)

	me := func(s *servertest.Server, tok string) servertest.Response {
		return s.Do(t, "GET", "/api/v1/me", tok, nil)
	}
	sub := "user-" + strings.ToLower(rand.Text()[:8])
	name := "jwt_" + strings.ToLower(rand.Text()[:8])

	// First sight on two servers: one user.
	hs := p.sign(t, "HS256", "", claims(sub, name))
	var first, second struct{ User protocol.User }
	r := me(s1, hs)
	if r.Status != 200 {
		t.Fatalf("HS256 token: %d %s", r.Status, r.Raw)
	}
	r.Decode(t, &first)
	me(s2, p.sign(t, "RS256", "k1", claims(sub, "another_name"))).Decode(t, &second)
	if first.User.Username != name || second.User != first.User {
		t.Fatalf("subject's user: %+v then %+v, want one user named %s", first.User, second.User, name)
	}
	r = me(s1, p.sign(t, "ES256", "e1", claims(sub, name)))
	if r.Status != 200 {
		t.Fatalf("ES256 token: %d %s", r.Status, r.Raw)
	}
	// The user has no password.
	if r := s1.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": name, "password": ""}); r.Status != 400 {
		t.Fatalf("login without password: %d", r.Status)
	}
	if r := s1.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": name, "password": "anything-at-all"}); r.Status != 401 {
		t.Fatalf("password login of a JWT user: %d %s", r.Status, r.Raw)
	}

	refused := map[string]string{}
	mod := func(k string, v any) jwt.MapClaims {
		c := claims(sub, name)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	refused["expired"] = p.sign(t, "HS256", "", mod("exp", time.Now().Add(-time.Minute).Unix()))
	refused["no exp"] = p.sign(t, "HS256", "", mod("exp", nil))
	refused["not yet valid"] = p.sign(t, "HS256", "", mod("nbf", time.Now().Add(time.Hour).Unix()))
	refused["other issuer"] = p.sign(t, "HS256", "", mod("iss", "https://evil.test"))
	refused["other audience"] = p.sign(t, "HS256", "", mod("aud", "someone-else"))
	refused["no subject"] = p.sign(t, "HS256", "", mod("sub", nil))
	forged := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(sub, name))
	refused["forged HS256"], _ = forged.SignedString([]byte(strings.Repeat("x", 42)))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims(sub, name))
	refused["alg none"], _ = none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	parts := strings.Split(p.sign(t, "RS256", "k1", claims(sub, name)), ".")
	other := strings.Split(p.sign(t, "RS256", "k1", claims("someone-else", name)), ".")
	refused["swapped payload"] = parts[0] + "." + other[1] + "." + parts[2]
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	unknown := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(sub, name))
	unknown.Header["kid"] = "nope"
	refused["unknown key"], _ = unknown.SignedString(stranger)
	unknown.Header["kid"] = "k1"
	refused["k1's id, another key"], _ = unknown.SignedString(stranger)
	refused["bad username on first sight"] = p.sign(t, "HS256", "", claims("new-"+sub, "Not A Name!"))
	for what, tok := range refused {
		if r := me(s1, tok); r.Status != 401 || r.Code() != "unauthorized" {
			t.Errorf("%s: %d %s, want 401 unauthorized", what, r.Status, r.Raw)
		}
	}
	// A new subject whose username a Rookery account has: conflict.
	acct, acctTok := s1.Signup(t, "acct_"+strings.ToLower(rand.Text()[:8]))
	if r := me(s1, p.sign(t, "HS256", "", claims("new-"+sub, acct.Username))); r.Status != 409 {
		t.Errorf("username of an account: %d %s, want 409", r.Status, r.Raw)
	}

	// Key rotation: the provider publishes k2 and withdraws k1. A token
	// of k2 makes the server fetch the new set; k1's are refused from then.
	p.addRSA(t, "k2", true)
	if r := me(s1, p.sign(t, "RS256", "k2", claims(sub, name))); r.Status != 200 {
		t.Fatalf("token of the new key: %d %s", r.Status, r.Raw)
	}
	if r := me(s1, strings.Join(parts, ".")); r.Status != 401 {
		t.Errorf("token of the withdrawn key after rotation: %d %s", r.Status, r.Raw)
	}

	// Over WebSocket: the JWT user chats with the account user.
	room := s1.CreateRoom(t, acctTok, "embedded", protocol.Private)
	if r := s1.Do(t, "POST", "/api/v1/rooms/"+room.ID+"/members", acctTok, map[string]string{"username": name}); r.Status != 200 {
		t.Fatalf("add JWT user: %d %s", r.Status, r.Raw)
	}
	conn, _, err := s1.DialRaw(t, nil) // s1 fetched the rotated set
	if err != nil {
		t.Fatal(err)
	}
	raw := servertest.Wrap(t, conn)
	raw.Send(map[string]string{"type": "hello", "token": p.sign(t, "ES256", "e1", claims(sub, name))}) // e1 was withdrawn too
	if code := raw.CloseCode(); code != protocol.CloseUnauthorized {
		t.Fatalf("hello with a withdrawn key: close %d", code)
	}
	p.addEC(t, "e2")
	jw := s2.Dial(t, p.sign(t, "ES256", "e2", claims(sub, name)))
	aw := s1.Dial(t, acctTok)
	jw.Subscribe(room.ID, nil)
	aw.Subscribe(room.ID, nil)
	ack := jw.SendMsg(room.ID, "j1", "hello from the embedding product")
	if ack.Type() != "ack" {
		t.Fatalf("JWT user's send: %v", ack.M)
	}
	var got protocol.Message
	aw.NextOf("message").Decode(t, &got)
	if got.Sender != first.User || got.Body != "hello from the embedding product" {
		t.Fatalf("account user got %+v", got)
	}
}
