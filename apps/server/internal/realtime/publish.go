package realtime

import (
	"context"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Publish adds a message of user (a bot of the server API) to a room, by
// the same durable, ordered and idempotent path as a client's send, and
// returns its ack once it is durable. The server API has checked the
// room, the bot's rate limit and the request's fields; the bot needs no
// membership. A retried ref gets the original ack.
func (h *Hub) Publish(ctx context.Context, user protocol.User, room, body, ref, replyTo string) (protocol.Ack, error) {
	draft, err := h.draftMessage(ctx, room, ref, body, replyTo)
	if err != nil {
		return protocol.Ack{}, err
	}
	acks := make(chan protocol.Ack, 1)
	err = h.sender.Send(ctx, user, draft, func(a protocol.Ack) {
		select {
		case acks <- a:
		default:
		}
	})
	if err != nil {
		return protocol.Ack{}, err
	}
	select {
	case a := <-acks:
		return a, nil
	case <-ctx.Done():
		return protocol.Ack{}, protocol.Wrap(protocol.CodeUnavailable, ctx.Err(), "message log unavailable; retry with the same ref")
	}
}

// Online reports whether a user has a connection on any server.
func (h *Hub) Online(ctx context.Context, userID string) (bool, error) {
	on, err := h.broker.Online(ctx, []string{userID})
	if err != nil {
		return false, protocol.Wrap(protocol.CodeUnavailable, err, "presence unavailable")
	}
	return on[userID], nil
}
