package config

import (
	"strings"
	"testing"

	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

func TestComposeSetsOnlyKnownVars(t *testing.T) {
	testenv.CheckComposeEnv(t, Vars(), "persister")
}

// TestHelmValuesListEverySetting: the chart has a value for every setting.
func TestHelmValuesListEverySetting(t *testing.T) {
	testenv.CheckHelmValues(t, Vars(), "persister", "DATABASE_URL", "KAFKA_BROKERS", "KAFKA_SASL_PASSWORD")
}

// Settings that would stall or spin the persister are refused at start.
func TestLoadRefusesNonsense(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://localhost/x")
	t.Setenv("KAFKA_BROKERS", "localhost:9092")
	if c, err := Load(); err != nil || c.FetchMinBytes != 65536 {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	for name, value := range map[string]string{"KAFKA_FETCH_MIN_BYTES": "0", "BATCH_SIZE": "0", "BATCH_TIMEOUT": "0s"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := Load(); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=%s: %v", name, value, err)
			}
		})
	}
}
