package main

import (
	"bytes"
	"sync"
	"time"
)

// acks tracks one connection's sends in flight, by ref.
type acks struct {
	mu      sync.Mutex
	pending map[string]time.Time
}

func newAcks() *acks { return &acks{pending: make(map[string]time.Time)} }

func (a *acks) sent(ref string, at time.Time) {
	a.mu.Lock()
	a.pending[ref] = at
	a.mu.Unlock()
}

var (
	ackType   = []byte(`"type":"ack"`)
	errorType = []byte(`"type":"error"`)
	refField  = []byte(`"ref":"`)
)

// answer reads an ack or error frame; it returns whether the frame was one,
// whether it was an ack, and the time since its send.
func (a *acks) answer(frame []byte) (isAnswer, ok bool, took time.Duration) {
	isAck := bytes.Contains(frame, ackType)
	if !isAck && !bytes.Contains(frame, errorType) {
		return false, false, 0
	}
	i := bytes.Index(frame, refField)
	if i < 0 {
		return true, false, 0
	}
	ref := frame[i+len(refField):]
	ref = ref[:max(0, bytes.IndexByte(ref, '"'))]
	a.mu.Lock()
	at, found := a.pending[string(ref)]
	delete(a.pending, string(ref))
	a.mu.Unlock()
	if !found {
		return true, false, 0
	}
	return true, isAck, time.Since(at)
}

// wait waits, up to d, until every send was answered.
func (a *acks) wait(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		n := len(a.pending)
		a.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond) // bounded wait for the last answers
	}
}
