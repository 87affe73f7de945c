package devenv

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/segmentio/kafka-go"
)

// HTTPReady is a WaitFor check: url answers 200.
func HTTPReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

// KafkaReady is a WaitFor check: the broker at addr answers a metadata
// request naming a controller. An open port is not enough: a broker loading
// its data directory accepts connections before it can take requests, and
// a client that came then was refused (CreateTopics: "Broker Not
// Available").
func KafkaReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := kafka.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		// One attempt is bounded: WaitFor asks again until its own deadline.
		dl := time.Now().Add(2 * time.Second)
		if d, ok := ctx.Deadline(); ok && d.Before(dl) {
			dl = d
		}
		_ = c.SetDeadline(dl)
		b, err := c.Controller()
		if err != nil {
			return fmt.Errorf("kafka %s: controller: %w", addr, err)
		}
		if b.Host == "" || b.Port == 0 {
			return fmt.Errorf("kafka %s: no controller yet", addr)
		}
		return nil
	}
}
