package config

import (
	"testing"

	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

func TestComposeSetsOnlyKnownVars(t *testing.T) {
	testenv.CheckComposeEnv(t, Vars(), "persister")
}
