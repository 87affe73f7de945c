package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Kafka is how the project's clients reach the Kafka cluster: its brokers,
// and the SASL mechanism and TLS configuration every connection uses.
type Kafka struct {
	brokers []string
	mech    sasl.Mechanism
	tls     *tls.Config
}

// NewKafka checks auth and returns the way to brokers.
func NewKafka(brokers []string, auth KafkaAuth) (*Kafka, error) {
	mech, err := auth.mechanism()
	if err != nil {
		return nil, err
	}
	tc, err := auth.tls()
	if err != nil {
		return nil, err
	}
	return &Kafka{brokers: brokers, mech: mech, tls: tc}, nil
}

// PlainKafka reaches brokers without SASL or TLS (local clusters, tests).
func PlainKafka(brokers []string) *Kafka { return &Kafka{brokers: brokers} }

// Brokers are the bootstrap brokers.
func (k *Kafka) Brokers() []string { return k.brokers }

// Transport is a transport of its own for a writer or a client: a shared
// one caches topic metadata across writers, so a topic created after
// another writer's first request would look missing for a while.
func (k *Kafka) Transport() *kafka.Transport {
	return &kafka.Transport{MetadataTTL: 30 * time.Second, DialTimeout: 3 * time.Second, SASL: k.mech, TLS: k.tls}
}

// Dialer is for readers (consumer groups).
func (k *Kafka) Dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, SASLMechanism: k.mech, TLS: k.tls}
}

// Client is an admin and metadata client.
func (k *Kafka) Client(timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(k.brokers...), Timeout: timeout, Transport: k.Transport()}
}

// EnsureTopic creates topic with the given partitions unless it exists.
// Production clusters usually create topics by hand; this is for
// development and first starts.
func (k *Kafka) EnsureTopic(ctx context.Context, topic string, partitions int) error {
	resp, err := k.Client(10*time.Second).CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: -1,
	}}})
	if err != nil {
		return fmt.Errorf("bus: create topic %s: %w", topic, err)
	}
	if err := resp.Errors[topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("bus: create topic %s: %w", topic, err)
	}
	return nil
}

// Reachable checks that the cluster answers a metadata request over the
// configured TLS and SASL: a broker that accepts connections but refuses
// the credentials is not reachable.
func (k *Kafka) Reachable(ctx context.Context) error {
	if _, err := k.Client(5*time.Second).Metadata(ctx, &kafka.MetadataRequest{}); err != nil {
		return fmt.Errorf("bus: kafka not reachable: %w", err)
	}
	return nil
}
