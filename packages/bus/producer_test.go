package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Concurrent sends share requests, and each is acknowledged. (That they
// reach consumers is what the persister's tests check.)
func TestProducerWritesEveryConcurrentSend(t *testing.T) {
	ctx := testenv.Ctx(t)
	brokers, topic := testenv.Kafka(t, 4)
	p := bus.NewProducer(bus.ProducerConfig{Kafka: bus.PlainKafka(strings.Split(brokers, ",")), Topic: topic, WriteTimeout: 10 * time.Second})
	const n = 500
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := protocol.Event{ID: fmt.Sprint(i), Room: fmt.Sprintf("room-%d", i%7), Seq: int64(i + 1)}
			if err := p.Produce(ctx, msg); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// 500 sends to at most 4 partitions, made at once, share requests.
	if reqs := p.Requests(); reqs > n/2 {
		t.Errorf("%d produce requests for %d concurrent sends", reqs, n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// A send after Close fails at once, not when its deadline passes.
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := p.Produce(lctx, protocol.Event{ID: "late", Room: "r"})
	if protocol.ErrorCode(err) != protocol.CodeUnavailable || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send after Close: %v", err)
	}
}
