package chaos

import (
	"context"
	"errors"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/apps/loadgen/internal/wire"
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

// signup makes an account and returns its token.
func signup(ctx context.Context, base, name string) (string, error) {
	var s struct{ Token string }
	err := wire.Call(ctx, base, "", "POST", "/auth/signup", map[string]string{"username": name, "password": "chaos-" + name}, &s)
	return s.Token, err
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
