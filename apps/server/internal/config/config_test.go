package config

import (
	"testing"

	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

func TestComposeSetsOnlyKnownVars(t *testing.T) {
	testenv.CheckComposeEnv(t, Vars(), "server-1", "server-2")
}

// TestHelmValuesListEverySetting: the chart has a value for every setting.
func TestHelmValuesListEverySetting(t *testing.T) {
	testenv.CheckHelmValues(t, Vars(), "server", "DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS", "KAFKA_SASL_PASSWORD", "JWT_HS256_SECRET", "SERVER_ID")
}

func TestDefaults(t *testing.T) {
	c, err := FromMap(map[string]string{"DATABASE_URL": "postgres://x", "REDIS_URL": "redis://x", "KAFKA_BROKERS": "a:1,b:2"})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || len(c.KafkaBrokers) != 2 || c.ServerID == "" || c.SendQueue <= 0 {
		t.Fatalf("defaults: %+v", c)
	}
	if _, err := FromMap(map[string]string{}); err == nil {
		t.Fatal("missing DATABASE_URL accepted")
	}
}
