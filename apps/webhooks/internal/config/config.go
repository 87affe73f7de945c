// Package config reads the webhook dispatcher's configuration from the
// environment. Every variable, its default and its meaning is listed in
// the README.
package config

import (
	"fmt"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/rookery-chat/rookery/packages/bus"
)

// Config is the webhook dispatcher's configuration.
type Config struct {
	HTTPAddr  string `env:"HTTP_ADDR" envDefault:":8095"`
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"`
	// Pprof serves /debug/pprof: for profiling on a trusted network only.
	Pprof bool `env:"PPROF" envDefault:"false"`

	DatabaseURL  string   `env:"DATABASE_URL,required"`
	DBMaxConns   int32    `env:"DB_MAX_CONNS" envDefault:"4"`
	KafkaBrokers []string `env:"KAFKA_BROKERS,required" envSeparator:","`
	KafkaTopic   string   `env:"KAFKA_TOPIC" envDefault:"chat.messages"`
	KafkaGroup   string   `env:"KAFKA_GROUP" envDefault:"rookery-webhooks"`
	// Kafka is how the Kafka clients authenticate.
	Kafka bus.KafkaAuth

	Timeout    time.Duration `env:"WEBHOOK_TIMEOUT" envDefault:"10s"`
	RetryMin   time.Duration `env:"WEBHOOK_RETRY_MIN" envDefault:"1s"`
	RetryMax   time.Duration `env:"WEBHOOK_RETRY_MAX" envDefault:"5m"`
	GapWait    time.Duration `env:"WEBHOOK_GAP_WAIT" envDefault:"5s"`
	Queue      int           `env:"WEBHOOK_QUEUE" envDefault:"1000"`
	MaxPending int           `env:"WEBHOOK_MAX_PENDING" envDefault:"10000"`
	Refresh    time.Duration `env:"WEBHOOK_REFRESH" envDefault:"5s"`
}

// Load reads the configuration from the environment.
func Load() (Config, error) {
	return parse(env.Options{})
}

// FromMap reads the configuration from vars instead of the environment.
func FromMap(vars map[string]string) (Config, error) {
	return parse(env.Options{Environment: vars})
}

func parse(opts env.Options) (Config, error) {
	c, err := env.ParseAsWithOptions[Config](opts)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if c.Timeout <= 0 || c.RetryMin <= 0 || c.RetryMax < c.RetryMin || c.GapWait < 0 || c.Refresh <= 0 {
		return c, fmt.Errorf("config: WEBHOOK_TIMEOUT, WEBHOOK_RETRY_MIN and WEBHOOK_REFRESH must be positive, WEBHOOK_RETRY_MAX at least WEBHOOK_RETRY_MIN, WEBHOOK_GAP_WAIT not negative")
	}
	if c.Queue < 1 || c.MaxPending < 1 {
		return c, fmt.Errorf("config: WEBHOOK_QUEUE and WEBHOOK_MAX_PENDING must be positive")
	}
	return c, nil
}
