package chaos

import (
	"context"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/packages/client"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// frame is what the load reads of a server frame.
type frame struct {
	Type      string `json:"type"`
	Ref       string `json:"ref"`
	Room      string `json:"room"`
	Seq       int64  `json:"seq"`
	ID        string `json:"id"`
	Code      string `json:"code"`
	Recovered bool   `json:"recovered"`
}

// read reads the next frame as far as the load needs it.
func read(c *client.Conn) (frame, error) {
	raw, err := c.Read()
	if err != nil {
		return frame{}, err
	}
	var f frame
	return f, raw.Decode(&f)
}

// readFrames is read for a subscriber: from a replay frame (a contract
// addition) it returns the frames it gathers, in order.
func readFrames(c *client.Conn) ([]frame, error) {
	raw, err := c.Read()
	if err != nil {
		return nil, err
	}
	if raw.Type != protocol.TypeReplay {
		var f frame
		err := raw.Decode(&f)
		return []frame{f}, err
	}
	_, frames, err := raw.Replay()
	if err != nil {
		return nil, err
	}
	out := make([]frame, len(frames))
	for i, g := range frames {
		if err := g.Decode(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// signup makes an account and returns its token.
func signup(ctx context.Context, base, name string) (string, error) {
	s, err := client.New(base).Signup(ctx, name, "chaos-"+name)
	return s.Token, err
}

// as is a client of the API at base, authenticated with token.
func as(base, token string) *client.Client {
	c := client.New(base)
	c.Token = token
	return c
}

// closeCode is the close code a read error carries; -1 when the
// connection ended without a close frame (the server was killed).
func closeCode(err error) int { return client.CloseCode(err) }

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
