package store

import (
	"context"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// CreateWebhook adds a webhook to a room; it gets the events after seq.
func (s *Store) CreateWebhook(ctx context.Context, roomID, url, secret string, seq int64) (protocol.Webhook, error) {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return protocol.Webhook{}, err
	}
	w, err := s.q.CreateWebhook(ctx, db.CreateWebhookParams{ID: newID(), RoomID: r.ID, Url: url, Secret: secret, DeliveredSeq: seq})
	if err != nil {
		return protocol.Webhook{}, translate("create webhook", err)
	}
	return protocol.Webhook{ID: w.ID.String(), Room: w.RoomID.String(), URL: w.Url, Secret: w.Secret, CreatedAt: w.CreatedAt}, nil
}

// RoomWebhooks lists a room's webhooks, without their secrets.
func (s *Store) RoomWebhooks(ctx context.Context, roomID string) ([]protocol.Webhook, error) {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.RoomWebhooks(ctx, r.ID)
	if err != nil {
		return nil, translate("room webhooks", err)
	}
	out := make([]protocol.Webhook, 0, len(rows))
	for _, w := range rows {
		out = append(out, protocol.Webhook{ID: w.ID.String(), Room: w.RoomID.String(), URL: w.Url, CreatedAt: w.CreatedAt})
	}
	return out, nil
}

// DeleteWebhook deletes a webhook and returns its room; its undelivered
// events are dropped.
func (s *Store) DeleteWebhook(ctx context.Context, id string) (string, error) {
	wid, err := ParseID("webhook", id)
	if err != nil {
		return "", err
	}
	room, err := s.q.DeleteWebhook(ctx, wid)
	if db.IsNotFound(err) {
		return "", protocol.Errorf(protocol.CodeNotFound, "no such webhook")
	}
	if err != nil {
		return "", translate("delete webhook", err)
	}
	return room.String(), nil
}
