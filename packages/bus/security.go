package bus

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// TLSConfig is a client TLS configuration trusting the PEM certificates in
// caFile, or the system's roots when caFile is empty.
func TLSConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("bus: tls ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("bus: tls ca: no PEM certificate in %s", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// KafkaAuth is how the project's Kafka clients authenticate: SASL (PLAIN,
// SCRAM-SHA-256 or SCRAM-SHA-512) and TLS, both optional.
// Its env tags are the variables every app reads it from (README,
// "Managed Kafka and Redis").
type KafkaAuth struct {
	// Mechanism is "", "plain", "scram-sha-256" or "scram-sha-512".
	Mechanism string `env:"KAFKA_SASL_MECHANISM"`
	Username  string `env:"KAFKA_SASL_USERNAME"`
	Password  string `env:"KAFKA_SASL_PASSWORD"`
	// TLS turns TLS on; CAFile is the CA to trust (empty: the system's).
	TLS    bool   `env:"KAFKA_TLS" envDefault:"false"`
	CAFile string `env:"KAFKA_TLS_CA_FILE"`
}

// mechanism is the SASL mechanism, nil when none.
func (a KafkaAuth) mechanism() (sasl.Mechanism, error) {
	switch strings.ToLower(a.Mechanism) {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: a.Username, Password: a.Password}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, a.Username, a.Password)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, a.Username, a.Password)
	}
	return nil, fmt.Errorf("bus: unknown KAFKA_SASL_MECHANISM %q (plain, scram-sha-256, scram-sha-512)", a.Mechanism)
}

func (a KafkaAuth) tls() (*tls.Config, error) {
	if !a.TLS {
		return nil, nil
	}
	return TLSConfig(a.CAFile)
}
