package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
)

// EnsureTopic creates topic with the given partitions unless it exists.
// Production clusters usually create topics by hand; this is for
// development and first starts.
func EnsureTopic(ctx context.Context, brokers []string, topic string, partitions int) error {
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
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

// KafkaReachable checks that some broker accepts connections.
func KafkaReachable(ctx context.Context, brokers []string) error {
	var d net.Dialer
	var last error
	for _, b := range brokers {
		c, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			return c.Close()
		}
		last = err
	}
	return fmt.Errorf("bus: no kafka broker reachable: %w", last)
}
