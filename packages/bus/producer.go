package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Producer writes messages to the Kafka message log.
//
// Concurrent Produce calls are batched naturally: a few sender goroutines
// each take whatever is queued (up to maxProduceBatch messages) and write
// it as one request, so a quiet producer sends each message at once and a
// busy one sends more per request while earlier requests are in flight,
// without waiting on a timer (what the Java client does with linger.ms=0).
type Producer struct {
	w       *kafka.Writer
	reqs    chan produceReq // bounded: Produce waits for room, up to its deadline
	stop    chan struct{}   // closed by Close: senders answer what is queued and end
	stopped chan struct{}   // closed once the senders have ended
	once    sync.Once
	wg      sync.WaitGroup
}

type produceReq struct {
	msg  kafka.Message
	done chan error // buffered: the sender never blocks on it
}

const (
	// producerSenders is how many requests may be in flight at once.
	producerSenders = 4
	// maxProduceBatch bounds the messages one sender hands kafka-go at once.
	maxProduceBatch = 1000
	// kafkaBatchSize bounds one partition's request. kafka-go allocates a
	// slice of this many messages (~150 bytes each) for every batch it
	// opens, however few it then holds: at 1,000 it was 87 % of a server's
	// allocated bytes in a conversation load, where batches hold one or two
	// messages. A larger burst goes out as several requests.
	kafkaBatchSize = 64
	// produceQueue bounds the messages waiting for a sender.
	produceQueue = 4 * maxProduceBatch
)

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Kafka *Kafka
	Topic string
	// BatchTimeout is how long the writer waits for more messages before
	// sending a request; natural batching makes a tiny one enough.
	BatchTimeout time.Duration
	// WriteTimeout bounds one request, retries included.
	WriteTimeout time.Duration
}

// NewProducer returns a Producer that waits for all in-sync replicas.
func NewProducer(cfg ProducerConfig) *Producer {
	p := &Producer{w: &kafka.Writer{
		Addr:            kafka.TCP(cfg.Kafka.Brokers()...),
		Topic:           cfg.Topic,
		Balancer:        &kafka.Hash{}, // key = room: one partition per room keeps its order
		RequiredAcks:    kafka.RequireAll,
		BatchTimeout:    max(cfg.BatchTimeout, time.Microsecond), // 0 would mean kafka-go's 1s
		BatchSize:       kafkaBatchSize,
		BatchBytes:      16 << 20,
		MaxAttempts:     3,
		WriteBackoffMin: 20 * time.Millisecond,
		WriteBackoffMax: 200 * time.Millisecond,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
		// Produce is synchronous: it returns once the broker acknowledged.
		Async:     false,
		Transport: cfg.Kafka.Transport(),
	}, reqs: make(chan produceReq, produceQueue),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	timeout := cfg.WriteTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	for range producerSenders {
		p.wg.Add(1)
		go p.sender(timeout)
	}
	return p
}

// errProducerClosed fails sends made after or cut short by Close.
var errProducerClosed = errors.New("producer closed")

// Produce writes msg and returns once Kafka has acknowledged it, or an
// unavailable error. When ctx ends first the message may still be written.
func (p *Producer) Produce(ctx context.Context, msg protocol.Event) error {
	value, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("bus: produce: %w", err)
	}
	return p.produce(ctx, msg.Room, value)
}

// ProduceMarker writes a marker record of kind (TypeWebhooks) into room's
// partition, like Produce.
func (p *Producer) ProduceMarker(ctx context.Context, room, kind string) error {
	value, err := json.Marshal(Marker{Type: kind, Room: room, TS: protocol.FormatTime(time.Now())})
	if err != nil {
		return fmt.Errorf("bus: produce marker: %w", err)
	}
	return p.produce(ctx, room, value)
}

// ProduceFence writes the fence record that closes the epochs of room
// before seq's (see Redis.Fence), like Produce.
func (p *Producer) ProduceFence(ctx context.Context, room string, seq int64) error {
	value, err := json.Marshal(Fence{Type: TypeFence, ID: uuid.Must(uuid.NewV7()).String(), Room: room, Seq: seq,
		TS: protocol.FormatTime(time.Now())})
	if err != nil {
		return fmt.Errorf("bus: produce fence: %w", err)
	}
	return p.produce(ctx, room, value)
}

// produce writes one record keyed by room: one partition per room keeps
// its log in order.
func (p *Producer) produce(ctx context.Context, room string, value []byte) (err error) {
	ctx, span := startSpan(ctx, "kafka.produce", "kafka", room, trace.SpanKindProducer)
	defer func() { endSpan(span, err) }()
	r := produceReq{msg: kafka.Message{Key: []byte(room), Value: value}, done: make(chan error, 1)}
	if span.SpanContext().IsValid() {
		otel.GetTextMapPropagator().Inject(ctx, headerCarrier{&r.msg.Headers})
	}
	select {
	case <-p.stop:
		return unavailable("produce", errProducerClosed)
	default:
	}
	select {
	case p.reqs <- r:
	case <-p.stop:
		return unavailable("produce", errProducerClosed)
	case <-ctx.Done():
		return unavailable("produce", ctx.Err())
	}
	select {
	case err = <-r.done:
	case <-p.stopped:
		// Queued as Close began: answered by a sender on its way out, or
		// by nobody.
		select {
		case err = <-r.done:
		default:
			err = errProducerClosed
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return unavailable("produce", err)
	}
	return nil
}

// sender writes what is queued, a batch per request, until Close; then it
// fails what is left.
func (p *Producer) sender(timeout time.Duration) {
	defer p.wg.Done()
	batch := make([]produceReq, 0, 64)
	msgs := make([]kafka.Message, 0, 64)
	for {
		select {
		case r := <-p.reqs:
			batch = append(batch[:0], r)
		case <-p.stop:
			for {
				select {
				case r := <-p.reqs:
					r.done <- errProducerClosed
				default:
					return
				}
			}
		}
	gather:
		for len(batch) < maxProduceBatch {
			select {
			case r := <-p.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		msgs = msgs[:0]
		for _, r := range batch {
			msgs = append(msgs, r.msg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := p.w.WriteMessages(ctx, msgs...)
		cancel()
		var each kafka.WriteErrors
		if errors.As(err, &each) && len(each) == len(batch) {
			for i, r := range batch {
				r.done <- each[i]
			}
		} else {
			for _, r := range batch {
				r.done <- err
			}
		}
		clear(batch)
	}
}

// Requests is how many produce requests have been sent so far (one per
// partition per batch); Stats resets the writer's counters, so read it
// only in one place.
func (p *Producer) Requests() int64 { return p.w.Stats().Writes }

// Close stops the senders, once their requests in flight are answered, and
// closes the connections.
func (p *Producer) Close() error {
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		close(p.stopped)
	})
	return p.w.Close()
}
