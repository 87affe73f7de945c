package bus

import (
	"fmt"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// unavailable marks a failure of Redis or Kafka: the client may retry.
func unavailable(op string, err error) error {
	return protocol.Wrap(protocol.CodeUnavailable, fmt.Errorf("bus: %s: %w", op, err), "service temporarily unavailable")
}
