package store

import (
	"context"
	"math"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// SeedSeq starts a new seq epoch for the room and calls set with it while
// the room row is locked, so that seeds of one room happen in epoch order
// and a slow seeder can never install an older epoch over a newer one.
func (s *Store) SeedSeq(ctx context.Context, roomID string, set func(epoch int64) error) error {
	id, err := ParseID("room", roomID)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(q *db.Queries) error {
		epoch, err := q.BumpSeqEpoch(ctx, id)
		if db.IsNotFound(err) {
			return errNoRoom
		}
		if err != nil {
			return err
		}
		return set(epoch)
	})
	return translate("seed seq", err)
}

// MessagesBefore returns up to limit stored messages with seq < before
// (0: no bound), newest first.
func (s *Store) MessagesBefore(ctx context.Context, roomID string, before int64, limit int) ([]protocol.Message, error) {
	id, err := ParseID("room", roomID)
	if err != nil {
		return nil, err
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.q.ListMessagesBefore(ctx, db.ListMessagesBeforeParams{RoomID: id, BeforeSeq: before, MaxRows: int32(limit)})
	if err != nil {
		return nil, translate("messages before", err)
	}
	out := make([]protocol.Message, 0, len(rows))
	for _, r := range rows {
		out = append(out, protocol.Message{ID: r.ID.String(), Room: roomID, Seq: r.Seq,
			Sender: protocol.User{ID: r.SenderID.String(), Username: r.SenderUsername},
			Body:   r.Body, TS: protocol.FormatTime(r.CreatedAt), Ref: r.Ref})
	}
	return out, nil
}

// MessagesAfter returns up to limit stored messages with seq > after,
// oldest first.
func (s *Store) MessagesAfter(ctx context.Context, roomID string, after int64, limit int) ([]protocol.Message, error) {
	id, err := ParseID("room", roomID)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ListMessagesAfter(ctx, db.ListMessagesAfterParams{RoomID: id, AfterSeq: after, MaxRows: int32(limit)})
	if err != nil {
		return nil, translate("messages after", err)
	}
	out := make([]protocol.Message, 0, len(rows))
	for _, r := range rows {
		out = append(out, protocol.Message{ID: r.ID.String(), Room: roomID, Seq: r.Seq,
			Sender: protocol.User{ID: r.SenderID.String(), Username: r.SenderUsername},
			Body:   r.Body, TS: protocol.FormatTime(r.CreatedAt), Ref: r.Ref})
	}
	return out, nil
}

// SetLastRead moves the member's read marker forward (never back).
func (s *Store) SetLastRead(ctx context.Context, roomID, userID string, seq int64) error {
	rid, err := ParseID("room", roomID)
	if err != nil {
		return err
	}
	uid, err := ParseID("user", userID)
	if err != nil {
		return err
	}
	return translate("set last read", s.q.SetLastRead(ctx, db.SetLastReadParams{RoomID: rid, UserID: uid, Seq: seq}))
}
