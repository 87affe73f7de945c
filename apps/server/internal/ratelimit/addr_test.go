package ratelimit

import (
	"net/http/httptest"
	"testing"
)

func TestConcurrent(t *testing.T) {
	c := &Concurrent{Max: 2}
	if !c.Acquire("a") || !c.Acquire("a") {
		t.Fatal("the first two were refused")
	}
	if c.Acquire("a") {
		t.Fatal("a third was taken")
	}
	if !c.Acquire("b") {
		t.Fatal("another key was refused")
	}
	c.Release("a")
	if !c.Acquire("a") {
		t.Fatal("a released slot was not given again")
	}
	c.Release("a")
	c.Release("a")
	c.Release("b")
	if len(c.held) != 0 {
		t.Fatalf("keys without holders are kept: %v", c.held)
	}
}

func TestClientAddr(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", "203.0.113.7, 10.0.0.2")
	if got := ClientAddr(r, false); got != "10.0.0.1" {
		t.Errorf("untrusted: %s", got)
	}
	if got := ClientAddr(r, true); got != "203.0.113.7" {
		t.Errorf("trusted: %s", got)
	}
}
