// Package config reads the persister's configuration from the environment.
// Every variable, its default and its meaning is listed in the README.
package config

import (
	"fmt"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/rookery-chat/rookery/packages/bus"
)

// Config is the persister's configuration.
type Config struct {
	HTTPAddr  string `env:"HTTP_ADDR" envDefault:":8090"`
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"`
	// Pprof serves /debug/pprof: for profiling on a trusted network only.
	Pprof bool `env:"PPROF" envDefault:"false"`

	DatabaseURL      string   `env:"DATABASE_URL,required"`
	DBMaxConns       int32    `env:"DB_MAX_CONNS" envDefault:"4"`
	KafkaBrokers     []string `env:"KAFKA_BROKERS,required" envSeparator:","`
	KafkaTopic       string   `env:"KAFKA_TOPIC" envDefault:"chat.messages"`
	KafkaGroup       string   `env:"KAFKA_GROUP" envDefault:"rookery-persister"`
	DeadLetterTopic  string   `env:"KAFKA_DLQ_TOPIC" envDefault:"chat.messages.dlq"`
	KafkaPartitions  int      `env:"KAFKA_PARTITIONS" envDefault:"8"`
	KafkaCreateTopic bool     `env:"KAFKA_CREATE_TOPIC" envDefault:"true"`
	// FetchMinBytes is what a fetch waits for (up to bus.FetchWait)
	// before the broker answers: fewer, fuller fetches at moderate rates.
	FetchMinBytes int `env:"KAFKA_FETCH_MIN_BYTES" envDefault:"65536"`
	// Kafka is how the Kafka clients authenticate.
	Kafka bus.KafkaAuth

	BatchSize    int           `env:"BATCH_SIZE" envDefault:"5000"`
	BatchTimeout time.Duration `env:"BATCH_TIMEOUT" envDefault:"50ms"`
	// MaxRowsPerSec caps the write rate; 0 means no cap.
	MaxRowsPerSec float64       `env:"MAX_ROWS_PER_SEC" envDefault:"0"`
	RetryMin      time.Duration `env:"RETRY_MIN" envDefault:"100ms"`
	RetryMax      time.Duration `env:"RETRY_MAX" envDefault:"10s"`
}

// Load reads the configuration from the environment.
func Load() (Config, error) {
	c, err := env.ParseAs[Config]()
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if c.FetchMinBytes < 1 {
		return c, fmt.Errorf("config: KAFKA_FETCH_MIN_BYTES must be at least 1")
	}
	if c.BatchSize < 1 || c.BatchTimeout <= 0 {
		return c, fmt.Errorf("config: BATCH_SIZE and BATCH_TIMEOUT must be positive")
	}
	return c, nil
}
