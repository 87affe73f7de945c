package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// WebhooksResult is the time from a bot's publish (server API) to the
// room's webhook receiving the event, through Kafka and the dispatcher.
type WebhooksResult struct {
	Scenario   string      `json:"scenario"`
	Published  int         `json:"published"`
	Rate       float64     `json:"rate"`
	Delivered  int         `json:"delivered"`
	Repeats    int         `json:"repeats"`
	InOrder    bool        `json:"in_seq_order"`
	BadSigs    int         `json:"bad_signatures"`
	Latency    Percentiles `json:"publish_to_webhook_ms"`
	PublishLat Percentiles `json:"publish_ms"`
}

// webhookBots spreads the publishes over bots, each under BOT_SEND_RATE.
const webhookBots = 8

// runWebhooks makes an API key (with the server binary's admin command on
// the cluster's database), bots, a room and a webhook to a receiver of its
// own, publishes n messages at rate, and times each to its delivery.
func runWebhooks(ctx context.Context, server, dbURL, serverBin string, n int, rate float64) (WebhooksResult, error) {
	res := WebhooksResult{Scenario: "webhooks", Published: n, Rate: rate, InOrder: true}
	cmd := exec.CommandContext(ctx, serverBin, "apikey", "create", "-name", "loadgen webhooks", "-scopes", "publish,rooms,users")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return res, fmt.Errorf("%s apikey create: %v: %s", serverBin, err, out)
	}
	var key string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "key:" {
			key = f[1]
		}
	}
	call := func(path string, body any, v any) error {
		raw, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/api/v1/server"+path, bytes.NewReader(raw))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("POST %s: %s %s", path, resp.Status, b)
		}
		return json.Unmarshal(b, v)
	}

	var mu sync.Mutex
	var secret string
	sent := map[int64]time.Time{}
	arrived := map[int64]time.Time{}
	var order []int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	hooks := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		now := time.Now()
		var d struct{ Seq int64 }
		_ = json.Unmarshal(body, &d)
		mu.Lock()
		defer mu.Unlock()
		mac := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(mac, "%s.%s", r.Header.Get("Rookery-Timestamp"), body)
		if r.Header.Get("Rookery-Signature") != "v1="+hex.EncodeToString(mac.Sum(nil)) {
			res.BadSigs++
		}
		if _, dup := arrived[d.Seq]; dup {
			res.Repeats++
			return
		}
		if len(order) > 0 && d.Seq < order[len(order)-1] {
			res.InOrder = false
		}
		order = append(order, d.Seq)
		arrived[d.Seq] = now
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hooks.Serve(ln) }()
	defer hooks.Close()

	tag := fmt.Sprintf("lg%d", time.Now().UnixNano()%1_000_000)
	var bots []string
	for i := range webhookBots {
		name := fmt.Sprintf("%s_%d", tag, i)
		var u any
		if err := call("/bots", map[string]string{"username": name}, &u); err != nil {
			return res, err
		}
		bots = append(bots, name)
	}
	var made struct{ Room struct{ ID string } }
	if err := call("/rooms", map[string]any{"name": "webhooks " + tag, "visibility": "private", "owner": bots[0]}, &made); err != nil {
		return res, err
	}
	var hook struct{ Webhook struct{ Secret string } }
	if err := call("/rooms/"+made.Room.ID+"/webhooks", map[string]string{"url": "http://" + ln.Addr().String() + "/"}, &hook); err != nil {
		return res, err
	}
	mu.Lock()
	secret = hook.Webhook.Secret
	mu.Unlock()

	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	var pubLat []time.Duration
	errs := make(chan error, 1)
	for i := range n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return res, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			var ack struct{ Ack struct{ Seq int64 } }
			if err := call("/rooms/"+made.Room.ID+"/messages", map[string]string{"as": bots[i%len(bots)], "ref": fmt.Sprint("m", i), "body": "tick"}, &ack); err != nil {
				select {
				case errs <- err:
				default:
				}
				return
			}
			mu.Lock()
			sent[ack.Ack.Seq] = start
			pubLat = append(pubLat, time.Since(start))
			mu.Unlock()
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return res, err
	default:
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		k := len(arrived)
		mu.Unlock()
		if k >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling the receiver, bounded by the deadline
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for seq, t := range sent {
		if at, ok := arrived[seq]; ok {
			lat = append(lat, at.Sub(t))
		}
	}
	res.Delivered = len(lat)
	res.Latency = percentiles(lat)
	res.PublishLat = percentiles(pubLat)
	return res, nil
}
