package config

import "github.com/rookery-chat/rookery/packages/service"

// Vars lists every environment variable the webhook dispatcher reads.
func Vars() []string { return service.Vars(&Config{}) }
