package bus

// The message log (Kafka, key = room) holds two kinds of record: a
// protocol.Event as JSON (a message, an edit, a deletion or a reaction),
// and a Fence.

// TypeFence is the "type" of a fence record.
const TypeFence = "fence"

// Fence is the log record that closes a room's epochs older than Seq's:
// a message of such an epoch that comes after it in the log is never
// stored, and one that came before it is. Seq is the first seq of the new
// epoch, taken by the fence itself, so that no message has it.
type Fence struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
	TS   string `json:"ts"`
}

// TypeWebhooks is the "type" of a marker record saying that a room's
// webhooks changed: the webhook dispatcher reads them again before the
// room's records that follow it, so a new webhook gets every event
// logged after its creation was answered. It is not part of the room's
// log (no seq); the persister skips it.
const TypeWebhooks = "webhooks"

// Marker is a record outside the room's log (TypeWebhooks).
type Marker struct {
	Type string `json:"type"`
	Room string `json:"room"`
	TS   string `json:"ts"`
}
