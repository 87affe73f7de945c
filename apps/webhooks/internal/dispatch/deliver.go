package dispatch

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Delivery is the body of every webhook POST: the event as its room's
// subscribers get it over the WebSocket (a message, edit, delete or
// reaction frame), with the room's seq.
type Delivery struct {
	Webhook string          `json:"webhook"`
	Room    string          `json:"room"`
	Seq     int64           `json:"seq"`
	Event   json.RawMessage `json:"event"`
	// Late marks an event delivered after later ones: it reached Kafka
	// more than WEBHOOK_GAP_WAIT after them.
	Late bool `json:"late,omitempty"`
}

// Sign is the Rookery-Signature header of a body sent at ts: "v1=" and
// the hex HMAC-SHA256, keyed by the webhook's secret, of the Unix time in
// seconds, a dot and the body. A receiver recomputes it, compares in
// constant time, and refuses old timestamps (replays).
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// newClient is the HTTP client of deliveries: a redirect is not followed
// (it counts as a failure), so a receiver cannot bounce signed events
// elsewhere.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// post sends it to h once; a 2xx answer is success.
func (d *Dispatcher) post(ctx context.Context, h Hook, it item) error {
	body, err := json.Marshal(Delivery{Webhook: h.ID, Room: h.Room, Seq: it.seq, Event: it.body, Late: it.late})
	if err != nil {
		return err
	}
	ts := time.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Rookery-Webhooks/1")
	req.Header.Set("Rookery-Webhook-Id", h.ID)
	req.Header.Set("Rookery-Event-Id", it.id)
	req.Header.Set("Rookery-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("Rookery-Signature", Sign(h.Secret, ts, body))
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		deliveries.WithLabelValues("error").Inc()
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		deliveries.WithLabelValues("refused").Inc()
		return fmt.Errorf("POST %s: %s", h.URL, resp.Status)
	}
	deliveries.WithLabelValues("ok").Inc()
	deliverySeconds.Observe(time.Since(start).Seconds())
	return nil
}

// jitter spreads retries over [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}
