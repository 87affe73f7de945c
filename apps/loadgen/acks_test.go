package main

import (
	"testing"
	"time"
)

func TestAcks(t *testing.T) {
	a := newAcks()
	a.sent("r1", time.Now())
	a.sent("r2", time.Now())
	if isAnswer, ok, _ := a.answer([]byte(`{"type":"message","ref":"r1","body":"lg 1 2"}`)); isAnswer || ok {
		t.Fatal("a message is not an answer")
	}
	if isAnswer, ok, _ := a.answer([]byte(`{"type":"ack","ref":"r1","room":"x","seq":1}`)); !isAnswer || !ok {
		t.Fatal("ack not recognised")
	}
	if isAnswer, ok, _ := a.answer([]byte(`{"type":"error","ref":"r2","code":"rate_limited"}`)); !isAnswer || ok {
		t.Fatal("error not recognised")
	}
	if isAnswer, ok, _ := a.answer([]byte(`{"type":"ack","ref":"r1"}`)); !isAnswer || ok {
		t.Fatal("a second ack of one ref counted")
	}
	if ns, ok := sentAt([]byte(`{"type":"message","body":"lg 12345 7","seq":3}`)); !ok || ns != 12345 {
		t.Fatalf("sentAt: %d %v", ns, ok)
	}
}
