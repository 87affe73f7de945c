package devenv

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is an embedded Kafka-protocol broker (kfake) serving on loopback.
// It is for development and tests only; production uses a real Kafka cluster.
type Kafka struct {
	c *kfake.Cluster
}

// KafkaOptions tune StartKafka.
type KafkaOptions struct {
	// Port 0 picks a free one.
	Port int
	// DataDir, if set, persists the broker's data across restarts.
	DataDir string
	// Partitions is the default partition count of auto-created topics.
	Partitions int
}

// StartKafka starts a one-broker kfake cluster.
func StartKafka(opt KafkaOptions) (*Kafka, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(opt.Port), kfake.AllowAutoTopicCreation()}
	if opt.Partitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(opt.Partitions))
	}
	if opt.DataDir != "" {
		opts = append(opts, kfake.DataDir(opt.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kfake: %w", err)
	}
	return &Kafka{c: c}, nil
}

// Brokers is the bootstrap list, comma-separated.
func (k *Kafka) Brokers() string { return strings.Join(k.c.ListenAddrs(), ",") }

// Close stops the broker, flushing persisted data.
func (k *Kafka) Close() { k.c.Close() }

// CreateTopic creates topic with the given partitions unless it exists.
func CreateTopic(ctx context.Context, brokers string, topic string, partitions int) error {
	first := strings.Split(brokers, ",")[0]
	conn, err := kafka.DialContext(ctx, "tcp", first)
	if err != nil {
		return fmt.Errorf("dial %s: %w", first, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	err = conn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}
