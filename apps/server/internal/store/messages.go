package store

import (
	"context"
	"encoding/json"
	"errors"
	"math"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/apps/server/internal/history"
	"github.com/rookery-chat/rookery/packages/bus"
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

// LogEntry is one seq of a room's stored log: an event's frame, or a fence.
type LogEntry struct {
	Seq   int64
	Fence bool
	Frame []byte // nil for a fence
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
			e.Frame = logFrame(roomID, db.ListLogBeforeRow(r))
		}
		out = append(out, e)
	}
	return out, top, nil
}

// LogBefore returns up to limit entries of the room's stored log with
// seq < before, newest first, as frames; fences are left out.
func (s *Store) LogBefore(ctx context.Context, roomID string, before int64, limit int) ([]bus.Cached, error) {
	id, err := ParseID("room", roomID)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ListLogBefore(ctx, db.ListLogBeforeParams{RoomID: id, BeforeSeq: before, MaxRows: int32(limit)})
	if err != nil {
		return nil, translate("log before", err)
	}
	out := make([]bus.Cached, 0, len(rows))
	for _, r := range rows {
		out = append(out, bus.Cached{Seq: r.Seq, Frame: logFrame(roomID, r)})
	}
	return out, nil
}

// logFrame is the frame of a stored log row (not a fence): an event as it
// was sent, or a message in its current state.
func logFrame(roomID string, r db.ListLogBeforeRow) []byte {
	sender := protocol.User{ID: r.SenderID.String(), Username: r.SenderUsername, Bot: r.SenderBot}
	if r.Kind == protocol.KindMessage {
		st := stateOf(roomID, db.ListMessagesBeforeRow{ID: r.ID, Seq: r.Seq, SenderID: r.SenderID,
			SenderUsername: r.SenderUsername, SenderBot: r.SenderBot, Body: r.Body, Ref: r.Ref, CreatedAt: r.CreatedAt, ReplyTo: r.ReplyTo,
			Mentions: r.Mentions, EditedAt: r.EditedAt, Deleted: r.Deleted})
		return protocol.EncodeMessage(st.Message)
	}
	ev := protocol.Event{Kind: r.Kind, ID: r.ID.String(), Room: roomID, Seq: r.Seq, Sender: sender, Body: r.Body,
		TS: protocol.FormatTime(r.CreatedAt), Ref: r.Ref, Emoji: r.Emoji.String, On: r.ReactionOn.Bool}
	if r.TargetID.Valid {
		ev.Target = uuid.UUID(r.TargetID.Bytes).String()
	}
	return ev.Frame()
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
func (s *Store) MessagesBefore(ctx context.Context, roomID string, before int64, limit int) ([]history.Stored, error) {
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
	out := make([]history.Stored, 0, len(rows))
	for _, r := range rows {
		out = append(out, stateOf(roomID, r))
	}
	return out, nil
}

// MessagesAfter returns up to limit stored messages with seq > after,
// oldest first.
func (s *Store) MessagesAfter(ctx context.Context, roomID string, after int64, limit int) ([]history.Stored, error) {
	id, err := ParseID("room", roomID)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ListMessagesAfter(ctx, db.ListMessagesAfterParams{RoomID: id, AfterSeq: after, MaxRows: int32(limit)})
	if err != nil {
		return nil, translate("messages after", err)
	}
	out := make([]history.Stored, 0, len(rows))
	for _, r := range rows {
		out = append(out, stateOf(roomID, db.ListMessagesBeforeRow(r)))
	}
	return out, nil
}

// Message returns one stored message of the room; ok is false when
// PostgreSQL does not hold it (yet).
func (s *Store) Message(ctx context.Context, roomID, messageID string) (history.Stored, bool, error) {
	rid, err := ParseID("room", roomID)
	if err != nil {
		return history.Stored{}, false, err
	}
	mid, err := uuid.Parse(messageID)
	if err != nil {
		return history.Stored{}, false, nil // no message has such an id
	}
	r, err := s.q.GetRoomMessage(ctx, db.GetRoomMessageParams{ID: mid, RoomID: rid})
	if db.IsNotFound(err) {
		return history.Stored{}, false, nil
	}
	if err != nil {
		return history.Stored{}, false, translate("message", err)
	}
	return stateOf(roomID, db.ListMessagesBeforeRow(r)), true, nil
}

// Reactions returns every stored reaction row of these messages.
func (s *Store) Reactions(ctx context.Context, messageIDs []string) ([]history.ReactionRow, error) {
	ids := make([]uuid.UUID, 0, len(messageIDs))
	for _, m := range messageIDs {
		if id, err := uuid.Parse(m); err == nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.q.ListReactions(ctx, ids)
	if err != nil {
		return nil, translate("reactions", err)
	}
	out := make([]history.ReactionRow, len(rows))
	for i, r := range rows {
		out[i] = history.ReactionRow{Message: r.MessageID.String(), User: r.UserID.String(), Emoji: r.Emoji,
			On: r.Active, Seq: r.Seq, First: r.FirstSeq}
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

// stateOf is the one mapping of a stored message row to its state.
func stateOf(roomID string, r db.ListMessagesBeforeRow) history.Stored {
	m := protocol.Message{ID: r.ID.String(), Room: roomID, Seq: r.Seq,
		Sender: protocol.User{ID: r.SenderID.String(), Username: r.SenderUsername, Bot: r.SenderBot},
		Body:   r.Body, TS: protocol.FormatTime(r.CreatedAt), Ref: r.Ref, Deleted: r.Deleted}
	if r.ReplyTo.Valid {
		id := uuid.UUID(r.ReplyTo.Bytes).String()
		m.ReplyTo = &id
	}
	if r.EditedAt.Valid {
		at := protocol.FormatTime(r.EditedAt.Time)
		m.EditedAt = &at
	}
	if len(r.Mentions) > 0 {
		_ = json.Unmarshal(r.Mentions, &m.Mentions)
	}
	return history.Stored{Message: m, EditSeq: r.EditSeq}
}
