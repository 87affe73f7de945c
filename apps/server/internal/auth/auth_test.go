package auth

import (
	"bytes"
	"strings"
	"testing"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected hash format %q", h)
	}
	ok, err := VerifyPassword(h, "correct horse battery")
	if err != nil || !ok {
		t.Fatalf("verify right password: ok=%v err=%v", ok, err)
	}
	ok, err = VerifyPassword(h, "correct horse battery!")
	if err != nil || ok {
		t.Fatalf("verify wrong password: ok=%v err=%v", ok, err)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if _, err := VerifyPassword("$bcrypt$junk", "x"); err == nil {
		t.Fatal("malformed hash accepted")
	}
}

func TestToken(t *testing.T) {
	a, ha, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := NewToken()
	if a == b || len(a) < 43 {
		t.Fatalf("tokens not unique or too short: %q %q", a, b)
	}
	if !bytes.Equal(ha, HashToken(a)) || bytes.Equal(ha, HashToken(b)) {
		t.Fatal("token hash mismatch")
	}
}
