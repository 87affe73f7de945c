package realtime

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// event handles edit, delete and react: the request is checked against
// the target message's current state (PostgreSQL and the recent cache),
// then travels the durable path of a message with a seq of its own. A
// retry of a ref already taken skips the checks: it gets the original ack
// even if the message changed since.
func (h *Hub) event(ctx context.Context, c *client, f protocol.ClientFrame) error {
	if err := h.admit(c, f.Ref); err != nil {
		return err
	}
	write := f.Type != protocol.TypeDelete // one may still delete in a room one was blocked in
	if write {
		if err := h.authorizeWrite(ctx, f.Room, c.user); err != nil {
			return err
		}
	} else if err := h.authorize(ctx, f.Room, c.user); err != nil {
		return err
	}
	draft := protocol.Event{Room: f.Room, Ref: f.Ref, Target: f.ID}
	switch f.Type {
	case protocol.TypeEdit:
		draft.Kind, draft.Body = protocol.KindEdit, f.Body
	case protocol.TypeDelete:
		draft.Kind = protocol.KindDelete
	case protocol.TypeReact:
		draft.Kind, draft.Emoji, draft.On = protocol.KindReaction, f.Emoji, *f.On
	}
	if _, known, err := h.broker.GetRef(ctx, f.Room, c.user.ID, f.Ref); err != nil {
		return err
	} else if known {
		return h.submit(ctx, c, draft)
	}
	t, err := h.history.Message(ctx, f.Room, f.ID)
	if err != nil {
		return err
	}
	switch f.Type {
	case protocol.TypeEdit:
		if t.Sender() != c.user.ID {
			return protocol.Errorf(protocol.CodeForbidden, "only its sender can edit a message")
		}
		if t.Deleted() {
			return protocol.Errorf(protocol.CodeBadRequest, "a deleted message cannot be edited")
		}
	case protocol.TypeDelete:
		if t.Sender() != c.user.ID {
			owner, err := h.store.RoomOwner(ctx, f.Room)
			if err != nil {
				return err
			}
			if owner != c.user.ID {
				return protocol.Errorf(protocol.CodeForbidden, "only its sender or the room's owner can delete a message")
			}
		}
	case protocol.TypeReact:
		if t.Deleted() {
			return protocol.Errorf(protocol.CodeBadRequest, "a deleted message cannot be reacted to")
		}
		if draft.On && !t.HasEmoji(f.Emoji) && t.Emoji() >= protocol.ReactionsMaxEmoji {
			return protocol.Errorf(protocol.CodeBadRequest, "a message can have at most %d different reactions", protocol.ReactionsMaxEmoji)
		}
	}
	return h.submit(ctx, c, draft)
}

// mentionPattern finds @username candidates: an @ not preceded by a
// username character (so e-mail addresses do not count).
var mentionPattern = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_.\-@])@([a-zA-Z0-9_.\-]{3,32})`)

// maxMentions bounds the names one message may mention.
const maxMentions = 50

// mentions resolves the @usernames of body to the room's members named so.
// A name followed by punctuation ("@bob.") is tried without it too.
func (h *Hub) mentions(ctx context.Context, room, body string) (protocol.UserList, error) {
	if !strings.Contains(body, "@") {
		return nil, nil
	}
	seen := map[string]bool{}
	var names []string
	for _, m := range mentionPattern.FindAllStringSubmatch(body, -1) {
		name := strings.ToLower(m[1])
		for _, n := range []string{name, strings.TrimRight(name, ".-_")} {
			if len(n) >= protocol.UsernameMin && !seen[n] && len(names) < maxMentions {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	users, err := h.store.MembersNamed(ctx, room, names)
	if protocol.ErrorCode(err) == protocol.CodeUnavailable {
		// PostgreSQL is down: the message matters more than its mentions.
		h.log.Warn("mentions not resolved; the message is sent without them", "room", room, "err", err)
		return nil, nil
	}
	if err != nil || len(users) == 0 {
		return nil, err
	}
	return users, nil
}

// announceMentions tells every mentioned user, on whichever server their
// connections are, that a committed message mentions them (the sender
// excepted). It runs for each event this server commits.
func (h *Hub) announceMentions(ev protocol.Event) {
	if !ev.IsMessage() || len(ev.Mentions) == 0 {
		return
	}
	var users []string
	for _, u := range ev.Mentions {
		if u.ID != ev.Sender.ID {
			users = append(users, u.ID)
		}
	}
	if len(users) == 0 {
		return
	}
	frame := protocol.Encode(protocol.MentionFrame{Type: protocol.TypeMention, Room: ev.Room, ID: ev.ID, Seq: ev.Seq,
		Sender: ev.Sender})
	h.goWork(func() {
		ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
		defer cancel()
		h.publishControl(ctx, control{Kind: "mention", Users: users, Frame: json.RawMessage(frame)})
	})
}
