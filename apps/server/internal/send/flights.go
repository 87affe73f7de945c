package send

import (
	"context"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// refKey names one send: its room, user and ref.
type refKey struct{ room, user, ref string }

// board registers a send of k on this server, or, while an earlier send of
// the same ref is still being settled here, waits for it (up to
// KafkaWriteTimeout). The broker's record alone cannot tell a retry from a
// new send after it lost its data (a Redis restarted empty): Begin would
// then give the retry a new seq while the first copy, already in Kafka, is
// still being settled, and the ref would be stored twice. land ends the
// flight; call it once the send's fate is settled.
func (s *Sender) board(ctx context.Context, k refKey) (land func(), err error) {
	timer := time.NewTimer(s.opts.KafkaWriteTimeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ch, busy := s.flights[k]
		if !busy {
			ch = make(chan struct{})
			s.flights[k] = ch
			s.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					s.mu.Lock()
					delete(s.flights, k)
					s.mu.Unlock()
					close(ch)
				})
			}, nil
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return nil, protocol.Errorf(protocol.CodeUnavailable, "an earlier send of this ref is still in flight; retry")
		case <-ctx.Done():
			return nil, protocol.Errorf(protocol.CodeUnavailable, "an earlier send of this ref is still in flight; retry")
		}
	}
}
