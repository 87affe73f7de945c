// Package wire is the load generator's client of the public contract: the
// HTTP API and the WebSocket handshake, shared by the load scenarios and
// the fault suite.
package wire

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

var httpClient = &http.Client{Timeout: 30 * time.Second}

// Call makes one request of the HTTP API (path after /api/v1), with the
// token when it is not empty, and decodes the answer into out (if not nil).
// A status of 300 or more is an error carrying the body.
func Call(ctx context.Context, base, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// Dial opens a WebSocket to the server at base, says hello and waits for
// welcome.
func Dial(ctx context.Context, base, token string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}
	c, _, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		return nil, err
	}
	if err := c.WriteJSON(map[string]string{"type": "hello", "token": token}); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var w struct {
		Type string `json:"type"`
	}
	if err := c.ReadJSON(&w); err != nil || w.Type != "welcome" {
		c.Close()
		return nil, fmt.Errorf("hello: %v %v", w.Type, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}
