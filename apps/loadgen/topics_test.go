package main

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// A persist run's topics go when it ends: the broker keeps every record of
// every topic, and runs left behind grew it by gigabytes.
func TestDeleteTopicsRemovesARunsTopics(t *testing.T) {
	ctx := testenv.Ctx(t)
	brokers, topic := testenv.Kafka(t, 2)
	list := splitComma(brokers)
	if err := bus.PlainKafka(list).EnsureTopic(ctx, topic+"-dlq", 1); err != nil {
		t.Fatal(err)
	}
	// The DLQ topic of a run that stored no bad record may not exist: no
	// complaint for that.
	deleteTopics(list, topic, topic+"-dlq", topic+"-never-made")
	md, err := bus.PlainKafka(list).Client(10*time.Second).Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range md.Topics {
		if tp.Name == topic || tp.Name == topic+"-dlq" {
			t.Fatalf("topic %s still exists after deleteTopics", tp.Name)
		}
	}
}
