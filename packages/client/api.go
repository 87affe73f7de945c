// Package client is a Go client of Rookery's public contract
// (docs/protocol.md): the HTTP API (Client), a WebSocket connection with
// typed frames (Conn), and a Session that sends with refs and retries,
// and resumes its rooms after a reconnect without a gap or a duplicate.
//
//	c := client.New("http://localhost:8081")
//	auth, _ := c.Login(ctx, "ann", "secret")
//	conn, _ := client.Dial(ctx, c.Base, auth.Token)
//	sess := client.NewSession(conn, func(f client.Frame) { ... })
//	sess.Subscribe(ctx, roomID)
//	ack, _ := sess.Send(ctx, roomID, client.NewRef(), "hello")
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Client calls the HTTP API of one server (any server of a cluster).
type Client struct {
	// Base is the server's base URL, e.g. http://localhost:8081.
	Base string
	// Token authenticates the calls that need it; Login and Signup set it.
	Token string
	// HTTP makes the requests (default: a client with a 30 s timeout).
	HTTP *http.Client
}

// New returns a Client of the server at base.
func New(base string) *Client {
	return &Client{Base: base, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Error is an error answer of the API, in the contract's shape.
type Error struct {
	Status  int
	Code    protocol.Code
	Message string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("rookery: %d %s: %s", e.Status, e.Code, e.Message)
}

// IsCode reports whether err is an API or frame error with code.
func IsCode(err error, code protocol.Code) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Code == code
	}
	var fe *FrameError
	return errors.As(err, &fe) && fe.Code == code
}

// Call makes one request of the API (path after /api/v1) and decodes the
// answer into out, when not nil. An answer of 300 or more is an *Error.
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("rookery: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("rookery: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("rookery: %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		var eb protocol.ErrorBody
		if json.Unmarshal(raw, &eb) == nil {
			e.Code, e.Message = eb.Error.Code, eb.Error.Message
		} else {
			e.Message = string(raw)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return e
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("rookery: %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Auth is a logged-in user: who, and the token to use.
type Auth struct {
	User  protocol.User `json:"user"`
	Token string        `json:"token"`
}

func (c *Client) auth(ctx context.Context, path, username, password string) (Auth, error) {
	var s Auth
	err := c.Call(ctx, "POST", path, map[string]string{"username": username, "password": password}, &s)
	if err == nil {
		c.Token = s.Token
	}
	return s, err
}

// Signup creates an account and logs it in (the Client keeps the token).
func (c *Client) Signup(ctx context.Context, username, password string) (Auth, error) {
	return c.auth(ctx, "/auth/signup", username, password)
}

// Login logs in (the Client keeps the token).
func (c *Client) Login(ctx context.Context, username, password string) (Auth, error) {
	return c.auth(ctx, "/auth/login", username, password)
}

type roomBody struct {
	Room protocol.Room `json:"room"`
}

// CreateRoom creates a room with the caller as its owner.
func (c *Client) CreateRoom(ctx context.Context, name string, vis protocol.Visibility) (protocol.Room, error) {
	var out roomBody
	err := c.Call(ctx, "POST", "/rooms", map[string]string{"name": name, "visibility": string(vis)}, &out)
	return out.Room, err
}

// Join joins a public room.
func (c *Client) Join(ctx context.Context, roomID string) (protocol.Room, error) {
	var out roomBody
	err := c.Call(ctx, "POST", "/rooms/"+url.PathEscape(roomID)+"/join", nil, &out)
	return out.Room, err
}

// AddMember adds a user to a room the caller owns.
func (c *Client) AddMember(ctx context.Context, roomID, username string) error {
	return c.Call(ctx, "POST", "/rooms/"+url.PathEscape(roomID)+"/members", map[string]string{"username": username}, nil)
}

// Direct opens (or finds) the direct-message room with a user.
func (c *Client) Direct(ctx context.Context, username string) (protocol.Room, error) {
	var out roomBody
	err := c.Call(ctx, "POST", "/dm", map[string]string{"username": username}, &out)
	return out.Room, err
}

// Rooms lists the caller's rooms.
func (c *Client) Rooms(ctx context.Context) ([]protocol.Room, error) {
	var out struct {
		Rooms []protocol.Room `json:"rooms"`
	}
	err := c.Call(ctx, "GET", "/rooms", nil, &out)
	return out.Rooms, err
}

// History reads a page of a room's messages after seq (ascending).
func (c *Client) History(ctx context.Context, roomID string, after int64, limit int) ([]protocol.Message, bool, error) {
	var out struct {
		Messages []protocol.Message `json:"messages"`
		HasMore  bool               `json:"has_more"`
	}
	q := url.Values{"after_seq": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
	err := c.Call(ctx, "GET", "/rooms/"+url.PathEscape(roomID)+"/messages?"+q.Encode(), nil, &out)
	return out.Messages, out.HasMore, err
}
