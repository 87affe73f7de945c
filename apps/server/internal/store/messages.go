package store

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// SeedSeq starts a new seq epoch for the room and calls set with it while
// the room row is locked, so that seeds of one room happen in epoch order
// and a slow seeder can never install an older epoch over a newer one.
// When set did not use the epoch (another seeder was first), the bump is
// rolled back, so racing seeders do not burn epochs.
func (s *Store) SeedSeq(ctx context.Context, roomID string, set func(epoch int64) (bool, error)) error {
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
		used, err := set(epoch)
		if err == nil && !used {
			return errEpochUnused
		}
		return err
	})
	if errors.Is(err, errEpochUnused) {
		return nil
	}
	return translate("seed seq", err)
}

// errEpochUnused rolls back an epoch bump that turned out not to be needed.
var errEpochUnused = errors.New("epoch not used")

// LogEntry is one seq of a room's stored log: a message, or a fence.
type LogEntry struct {
	Seq     int64
	Fence   bool
	Message protocol.Message // zero for a fence
}

// LogAfter returns up to limit entries of the room's stored log with
// seq > after, fences included, oldest first, and the newest seq stored
// (the room's last_seq), read first: every entry up to it is final.
func (s *Store) LogAfter(ctx context.Context, roomID string, after int64, limit int) ([]LogEntry, int64, error) {
	id, err := ParseID("room", roomID)
	if err != nil {
		return nil, 0, err
	}
	top, err := s.q.RoomLastSeq(ctx, id)
	if err != nil {
		return nil, 0, translate("room last seq", err)
	}
	rows, err := s.q.ListLogAfter(ctx, db.ListLogAfterParams{RoomID: id, AfterSeq: after, MaxRows: int32(limit)})
	if err != nil {
		return nil, 0, translate("log after", err)
	}
	out := make([]LogEntry, 0, len(rows))
	for _, r := range rows {
		e := LogEntry{Seq: r.Seq, Fence: r.Fence}
		if !r.Fence {
			e.Message = messageOf(roomID, r.ID, r.Seq, r.SenderID, r.SenderUsername, r.Body, r.Ref, r.CreatedAt)
		}
		out = append(out, e)
	}
	return out, top, nil
}

// StoredSeq says whether the message with this id is stored; a send whose
// seq was fenced learns its fate here.
func (s *Store) StoredSeq(ctx context.Context, messageID string) (bool, error) {
	id, err := ParseID("message", messageID)
	if err != nil {
		return false, err
	}
	r, err := s.q.GetMessageByID(ctx, id)
	if db.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, translate("message by id", err)
	}
	return !r.Fence, nil
}

// RoomLastSeq is the newest seq stored for the room (0: none).
func (s *Store) RoomLastSeq(ctx context.Context, roomID string) (int64, error) {
	id, err := ParseID("room", roomID)
	if err != nil {
		return 0, err
	}
	n, err := s.q.RoomLastSeq(ctx, id)
	if db.IsNotFound(err) {
		return 0, errNoRoom
	}
	return n, translate("room last seq", err)
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
		out = append(out, messageOf(roomID, r.ID, r.Seq, r.SenderID, r.SenderUsername, r.Body, r.Ref, r.CreatedAt))
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
		out = append(out, messageOf(roomID, r.ID, r.Seq, r.SenderID, r.SenderUsername, r.Body, r.Ref, r.CreatedAt))
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

// messageOf is the one mapping of a stored row to a Message.
func messageOf(roomID string, id uuid.UUID, seq int64, sender uuid.UUID, username, body, ref string, at time.Time) protocol.Message {
	return protocol.Message{ID: id.String(), Room: roomID, Seq: seq,
		Sender: protocol.User{ID: sender.String(), Username: username},
		Body:   body, TS: protocol.FormatTime(at), Ref: ref}
}
