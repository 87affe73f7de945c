package config

import "github.com/rookery-chat/rookery/packages/service"

// Vars lists every environment variable the server reads.
func Vars() []string { return service.Vars(&Config{}) }
