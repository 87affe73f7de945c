package ratelimit

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	b := NewBucket(10, 3)
	now := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		if !b.Allow(now) {
			t.Fatalf("burst event %d refused", i)
		}
	}
	if b.Allow(now) {
		t.Fatal("event over burst allowed")
	}
	now = now.Add(100 * time.Millisecond) // one token at 10/s
	if !b.Allow(now) {
		t.Fatal("refilled token refused")
	}
	if b.Allow(now) {
		t.Fatal("second event after one refill allowed")
	}
	now = now.Add(time.Hour)
	for i := 0; i < 3; i++ {
		if !b.Allow(now) {
			t.Fatal("bucket did not refill up to burst")
		}
	}
	if b.Allow(now) {
		t.Fatal("bucket refilled past burst")
	}
}
