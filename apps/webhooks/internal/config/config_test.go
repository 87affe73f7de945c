package config

import (
	"testing"

	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

func TestComposeSetsOnlyKnownVars(t *testing.T) {
	testenv.CheckComposeEnv(t, Vars(), "webhooks")
}

// TestHelmValuesListEverySetting: the chart has a value for every setting.
func TestHelmValuesListEverySetting(t *testing.T) {
	testenv.CheckHelmValues(t, Vars(), "webhooks", "DATABASE_URL", "KAFKA_BROKERS", "KAFKA_SASL_PASSWORD")
}

func TestBadSettingsRefused(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://x", "KAFKA_BROKERS": "a:1"}
	if _, err := FromMap(base); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"WEBHOOK_RETRY_MAX": "1ms", "WEBHOOK_QUEUE": "0", "WEBHOOK_TIMEOUT": "0s", "WEBHOOK_GAP_WAIT": "-1s"} {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		if _, err := FromMap(m); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}
