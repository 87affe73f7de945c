package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// frame is what the load reads of a server frame.
type frame struct {
	Type      string `json:"type"`
	Ref       string `json:"ref"`
	Room      string `json:"room"`
	Seq       int64  `json:"seq"`
	Code      string `json:"code"`
	Recovered bool   `json:"recovered"`
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

func call(ctx context.Context, base, token, method, path string, body, out any) error {
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

// signup makes an account and returns its token.
func signup(ctx context.Context, base, name string) (string, error) {
	var s struct{ Token string }
	err := call(ctx, base, "", "POST", "/auth/signup", map[string]string{"username": name, "password": "chaos-" + name}, &s)
	return s.Token, err
}

// dial opens a WebSocket and says hello.
func dial(ctx context.Context, base, token string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		return nil, err
	}
	if err := c.WriteJSON(map[string]string{"type": "hello", "token": token}); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var f frame
	if err := c.ReadJSON(&f); err != nil || f.Type != "welcome" {
		c.Close()
		return nil, fmt.Errorf("hello: %+v %v", f, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// closeCode is the close code a read error carries; -1 when the
// connection ended without a close frame (the server was killed).
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// serverSideClose reports a close a client must not see because of a
// fault: anything but a vanished server (no close frame, or 1006) or a
// draining one (1001).
func serverSideClose(code int) bool {
	return code != -1 && code != websocket.CloseAbnormalClosure && code != websocket.CloseGoingAway
}

// pause waits d, or less if ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
