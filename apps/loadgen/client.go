package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/apps/loadgen/internal/wire"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// api is a minimal client of the HTTP contract.
type api struct {
	base  string
	token string
}

func (a api) do(ctx context.Context, method, path string, body, out any) error {
	return wire.Call(ctx, a.base, a.token, method, path, body, out)
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
	return wire.Dial(ctx, base, token)
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
