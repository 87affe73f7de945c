package config

import "github.com/caarlos0/env/v11"

// Vars lists every environment variable the server reads.
func Vars() []string {
	params, err := env.GetFieldParams(&Config{})
	if err != nil {
		panic(err)
	}
	out := make([]string, 0, len(params))
	for _, p := range params {
		out = append(out, p.Key)
	}
	return out
}
