package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/bus/bustest"
	"github.com/rookery-chat/rookery/packages/devenv"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// TestRedisTLSAndACL: the whole Broker contract holds on a Redis that
// speaks TLS only and knows one ACL user (its default user off); a wrong
// password and an untrusted certificate are refused.
func TestRedisTLSAndACL(t *testing.T) {
	certs := testenv.Certs(t)
	r := testenv.StartRedisWith(t, devenv.RedisOptions{TLS: &certs, Users: map[string]string{"rookery": "s3cret"}})
	url := fmt.Sprintf("rediss://rookery:s3cret@127.0.0.1:%d/0", r.Port)
	ctx := testenv.Ctx(t)

	if _, err := bus.OpenRedis(ctx, bus.RedisConfig{URL: fmt.Sprintf("rediss://rookery:wrong@127.0.0.1:%d/0", r.Port), CAFile: certs.CA}); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if _, err := bus.OpenRedis(ctx, bus.RedisConfig{URL: url}); err == nil {
		t.Fatal("a certificate of an untrusted CA was accepted")
	}
	if _, err := bus.OpenRedis(ctx, bus.RedisConfig{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port)}); err == nil {
		t.Fatal("plaintext was accepted on the TLS port")
	}

	bustest.Run(t, openRedis(bus.RedisConfig{URL: url, CAFile: certs.CA}))
}

// TestKafkaSASLAndTLS: topic creation, the producer, a consumer group
// reader and the readiness probe all work over TLS with SASL PLAIN and
// SCRAM-SHA-512; a wrong password, plaintext and an untrusted CA do not.
func TestKafkaSASLAndTLS(t *testing.T) {
	certs := testenv.Certs(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", "plain-pass"),
		kfake.Superuser("SCRAM-SHA-512", "scram-user", "scram-pass"),
		kfake.TLS(testenv.ServerTLS(t, certs)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for _, auth := range []bus.KafkaAuth{
		{Mechanism: "plain", Username: "plain-user", Password: "plain-pass", TLS: true, CAFile: certs.CA},
		{Mechanism: "scram-sha-512", Username: "scram-user", Password: "scram-pass", TLS: true, CAFile: certs.CA},
	} {
		t.Run(auth.Mechanism, func(t *testing.T) {
			k, err := bus.NewKafka(brokers, auth)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Reachable(ctx); err != nil {
				t.Fatal(err)
			}
			topic := "secure-" + auth.Mechanism
			if err := k.EnsureTopic(ctx, topic, 1); err != nil {
				t.Fatal(err)
			}
			p := bus.NewProducer(bus.ProducerConfig{Kafka: k, Topic: topic, WriteTimeout: 10 * time.Second})
			defer p.Close()
			msg := protocol.Event{ID: "0192f1e2-0000-7000-8000-000000000001", Room: "0192f1e2-0000-7000-8000-000000000002", Seq: 1, Body: "over tls", Ref: "r1",
				Sender: protocol.User{ID: "0192f1e2-0000-7000-8000-000000000003", Username: "ann"}, TS: protocol.FormatTime(time.Now())}
			if err := p.Produce(ctx, msg); err != nil {
				t.Fatal(err)
			}
			rd := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers(), Topic: topic, GroupID: "g-" + auth.Mechanism,
				Dialer: k.Dialer(), StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
			defer rd.Close()
			m, err := rd.FetchMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Key) != msg.Room {
				t.Fatalf("read back key %q", m.Key)
			}
			if err := rd.CommitMessages(ctx, m); err != nil {
				t.Fatal(err)
			}
		})
	}

	refused := map[string]bus.KafkaAuth{
		"wrong password": {Mechanism: "plain", Username: "plain-user", Password: "nope", TLS: true, CAFile: certs.CA},
		"plaintext":      {Mechanism: "plain", Username: "plain-user", Password: "plain-pass"},
		"untrusted CA":   {Mechanism: "plain", Username: "plain-user", Password: "plain-pass", TLS: true},
	}
	for name, auth := range refused {
		k, err := bus.NewKafka(brokers, auth)
		if err != nil {
			t.Fatal(err)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := k.Reachable(pctx); err == nil {
			t.Errorf("%s: reachable", name)
		}
		cancel()
	}
	if _, err := bus.NewKafka(brokers, bus.KafkaAuth{Mechanism: "gssapi"}); err == nil {
		t.Error("an unknown mechanism was accepted")
	}
}
