package persist

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// applyEvents brings the messages of a stored batch's events up to date:
// edits and deletions to their rows, reactions to the reactions table, and
// new messages' mentions to the mentions table. Every step is guarded by
// seq, or final, so applying a batch again (a replay after a crash, or the
// slow path after a failed fast one) changes nothing, and so do events
// stored out of seq order (concurrent sends of one room's epoch reach
// Kafka in any order).
func applyEvents(ctx context.Context, q *db.Queries, rows []row) error {
	var edits db.ApplyEditsParams
	var dels db.ApplyDeletesParams
	var ments db.InsertMentionsParams
	newest := map[uuid.UUID]int{} // edit target -> index in edits
	reacts := map[reactKey]*reactFold{}
	for _, r := range rows {
		switch {
		case r.fence:
		case r.kind == protocol.KindEdit:
			if i, ok := newest[r.target]; ok {
				if edits.Seqs[i] < r.seq {
					edits.Seqs[i], edits.Bodies[i], edits.Ats[i] = r.seq, r.body, r.at
				}
				continue
			}
			newest[r.target] = len(edits.Seqs)
			edits.RoomIds = append(edits.RoomIds, r.room)
			edits.TargetIds = append(edits.TargetIds, r.target)
			edits.Seqs = append(edits.Seqs, r.seq)
			edits.Bodies = append(edits.Bodies, r.body)
			edits.Ats = append(edits.Ats, r.at)
		case r.kind == protocol.KindDelete:
			dels.RoomIds = append(dels.RoomIds, r.room)
			dels.TargetIds = append(dels.TargetIds, r.target)
		case r.kind == protocol.KindReaction:
			k := reactKey{r.target, r.sender, r.emoji}
			f := reacts[k]
			if f == nil {
				f = &reactFold{}
				reacts[k] = f
			}
			f.add(r.seq, r.on)
		default:
			for _, u := range r.mentioned {
				if u == r.sender {
					continue // mentioning oneself is listed, never counted
				}
				ments.UserIds = append(ments.UserIds, u)
				ments.RoomIds = append(ments.RoomIds, r.room)
				ments.Seqs = append(ments.Seqs, r.seq)
				ments.MessageIds = append(ments.MessageIds, r.id)
			}
		}
	}
	if len(edits.Seqs) > 0 {
		if err := q.ApplyEdits(ctx, edits); err != nil {
			return fmt.Errorf("apply edits: %w", err)
		}
	}
	if len(dels.TargetIds) > 0 {
		if err := q.ApplyDeletes(ctx, dels); err != nil {
			return fmt.Errorf("apply deletions: %w", err)
		}
	}
	if len(reacts) > 0 {
		if err := q.UpsertReactions(ctx, reactParams(reacts)); err != nil {
			return fmt.Errorf("apply reactions: %w", err)
		}
	}
	if len(ments.Seqs) > 0 {
		if err := q.InsertMentions(ctx, ments); err != nil {
			return fmt.Errorf("store mentions: %w", err)
		}
	}
	return nil
}

type reactKey struct {
	message, user uuid.UUID
	emoji         string
}

// reactFold is a batch's events for one (message, user, emoji): the newest
// one's state and seq, and the lowest seq that added it (0: none did).
type reactFold struct {
	on         bool
	seq, first int64
}

func (f *reactFold) add(seq int64, on bool) {
	if seq > f.seq {
		f.seq, f.on = seq, on
	}
	if on && (f.first == 0 || seq < f.first) {
		f.first = seq
	}
}

// reactParams lists the folds in a fixed order, so that concurrent batches
// lock the rows they share in the same order.
func reactParams(m map[reactKey]*reactFold) db.UpsertReactionsParams {
	keys := make([]reactKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b reactKey) int {
		if c := slices.Compare(a.message[:], b.message[:]); c != 0 {
			return c
		}
		if c := slices.Compare(a.user[:], b.user[:]); c != 0 {
			return c
		}
		switch {
		case a.emoji < b.emoji:
			return -1
		case a.emoji > b.emoji:
			return 1
		}
		return 0
	})
	var p db.UpsertReactionsParams
	for _, k := range keys {
		f := m[k]
		p.MessageIds = append(p.MessageIds, k.message)
		p.UserIds = append(p.UserIds, k.user)
		p.Emojis = append(p.Emojis, k.emoji)
		p.Actives = append(p.Actives, f.on)
		p.Seqs = append(p.Seqs, f.seq)
		p.FirstSeqs = append(p.FirstSeqs, f.first)
	}
	return p
}

// hasApplicable reports whether any row needs applyEvents.
func hasApplicable(rows []row) bool {
	for _, r := range rows {
		if !r.fence && (r.event() || len(r.mentioned) > 0) {
			return true
		}
	}
	return false
}
