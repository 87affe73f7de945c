package main

import (
	"testing"

	"github.com/caarlos0/env/v11"

	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

func TestComposeSetsOnlyKnownVars(t *testing.T) {
	params, err := env.GetFieldParams(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, p := range params {
		vars = append(vars, p.Key)
	}
	testenv.CheckComposeEnv(t, vars, "web")
	testenv.CheckHelmValues(t, vars, "web")
}
