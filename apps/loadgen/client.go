package main

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

	"github.com/rookery-chat/rookery/packages/protocol"
)

// api is a minimal client of the HTTP contract.
type api struct {
	base  string
	token string
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (a api) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
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

type session struct {
	User  protocol.User `json:"user"`
	Token string        `json:"token"`
}

// account signs a user up, or logs in if the name is taken.
func account(ctx context.Context, base, name string) (session, error) {
	var s session
	creds := map[string]string{"username": name, "password": "loadgen-" + name}
	err := api{base: base}.do(ctx, "POST", "/auth/signup", creds, &s)
	if err != nil && strings.Contains(err.Error(), "409") {
		err = api{base: base}.do(ctx, "POST", "/auth/login", creds, &s)
	}
	return s, err
}

func createRoom(ctx context.Context, base, token, name string) (protocol.Room, error) {
	var out struct{ Room protocol.Room }
	err := api{base, token}.do(ctx, "POST", "/rooms", map[string]string{"name": name, "visibility": "public"}, &out)
	return out.Room, err
}

func join(ctx context.Context, base, token, room string) error {
	return api{base, token}.do(ctx, "POST", "/rooms/"+room+"/join", nil, nil)
}

// dial opens a WebSocket, says hello and waits for welcome.
func dial(ctx context.Context, base, token string) (*websocket.Conn, error) {
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
	var w map[string]any
	if err := c.ReadJSON(&w); err != nil || w["type"] != "welcome" {
		c.Close()
		return nil, fmt.Errorf("hello: %v %v", w, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// subscribe subscribes and reads up to the subscribed frame.
func subscribe(c *websocket.Conn, room string) error {
	if err := c.WriteJSON(map[string]string{"type": "subscribe", "room": room}); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(`"type":"subscribed"`)) {
			return nil
		}
		if bytes.Contains(data, []byte(`"type":"error"`)) {
			return fmt.Errorf("subscribe: %s", data)
		}
	}
}
