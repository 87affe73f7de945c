package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Producer writes messages to the Kafka message log. Concurrent Produce
// calls are batched into one request by the underlying writer.
type Producer struct {
	w *kafka.Writer
}

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Brokers      []string
	Topic        string
	BatchTimeout time.Duration
}

// NewProducer returns a Producer that waits for all in-sync replicas.
func NewProducer(cfg ProducerConfig) *Producer {
	return &Producer{w: &kafka.Writer{
		Addr:            kafka.TCP(cfg.Brokers...),
		Topic:           cfg.Topic,
		Balancer:        &kafka.Hash{}, // key = room: one partition per room keeps its order
		RequiredAcks:    kafka.RequireAll,
		BatchTimeout:    cfg.BatchTimeout,
		BatchSize:       1000,
		BatchBytes:      16 << 20,
		MaxAttempts:     3,
		WriteBackoffMin: 20 * time.Millisecond,
		WriteBackoffMax: 200 * time.Millisecond,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
		// Produce is synchronous: it returns once the broker acknowledged.
		Async: false,
		// A transport of its own: the shared default one caches topic
		// metadata across writers, so a topic created after another
		// writer's first request would look missing for a while.
		Transport: &kafka.Transport{MetadataTTL: 30 * time.Second, DialTimeout: 3 * time.Second},
	}}
}

// Produce writes msg and returns once Kafka has acknowledged it, or an
// unavailable error.
func (p *Producer) Produce(ctx context.Context, msg protocol.Message) error {
	value, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("bus: produce: %w", err)
	}
	if err := p.w.WriteMessages(ctx, kafka.Message{Key: []byte(msg.Room), Value: value}); err != nil {
		return unavailable("produce", err)
	}
	return nil
}

// Close flushes pending writes and closes the connections.
func (p *Producer) Close() error { return p.w.Close() }
