package config

import (
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
