package main

import (
	"bytes"
	"context"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/packages/client"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// account signs a user up, or logs in if the name is taken.
func account(ctx context.Context, base, name string) (client.Auth, error) {
	c := client.New(base)
	s, err := c.Signup(ctx, name, "loadgen-"+name)
	if client.IsCode(err, protocol.CodeConflict) {
		s, err = c.Login(ctx, name, "loadgen-"+name)
	}
	return s, err
}

func api(base, token string) *client.Client {
	c := client.New(base)
	c.Token = token
	return c
}

func createRoom(ctx context.Context, base, token, name string) (protocol.Room, error) {
	return api(base, token).CreateRoom(ctx, name, protocol.Public)
}

func join(ctx context.Context, base, token, room string) error {
	_, err := api(base, token).Join(ctx, room)
	return err
}

// dial opens a WebSocket, says hello and waits for welcome. The scenarios
// read the socket itself: the load generator must cost less than what it
// measures.
func dial(ctx context.Context, base, token string) (*websocket.Conn, error) {
	c, err := client.Dial(ctx, base, token, client.Options{Dialer: dialer(base)})
	if err != nil {
		return nil, err
	}
	return c.WebSocket(), nil
}

// subscribe subscribes and reads up to the subscribed frame.
func subscribe(c *websocket.Conn, room string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, err := client.Open(c).Subscribe(ctx, room, nil)
	return err
}

// readMessage reads the next message into buf, reusing its memory: a
// reader that allocated per message would make the load generator, not
// the servers, the slowest part of a burst.
func readMessage(c *websocket.Conn, buf *bytes.Buffer) error {
	_, r, err := c.NextReader()
	if err != nil {
		return err
	}
	buf.Reset()
	_, err = buf.ReadFrom(r)
	return err
}
