package protocol

import "encoding/json"

// TypeReplay is an addition to the contract: a batch of replayed room
// frames, sent instead of one frame each to a client whose subscribe asked
// for it with "batch": true.
const TypeReplay = "replay"

// ReplayBatchBytes bounds a replay frame: its frames are gathered up to
// this size, so that a client reads a resume in a few large frames rather
// than a thousand small ones, and never has to take one without bound.
const ReplayBatchBytes = 64 << 10

// ReplayFrames gathers a room's replayed frames, in order, into replay
// frames of at most limit bytes each:
//
//	{"type":"replay","room":"ID","frames":[F1,F2,...]}
//
// where each Fi is, byte for byte, the frame that would have been sent on
// its own. A frame too large to share a replay frame gets one to itself.
// The frames must be JSON objects (the server's own frames are); they are
// copied, not checked, since re-validating a thousand cached frames per
// resume would cost what batching saves.
func ReplayFrames(room string, frames [][]byte, limit int) [][]byte {
	if len(frames) == 0 {
		return nil
	}
	rb, _ := json.Marshal(room)
	head := make([]byte, 0, len(rb)+40)
	head = append(head, `{"type":"replay","room":`...)
	head = append(head, rb...)
	head = append(head, `,"frames":[`...)
	const tail = len(`]}`)
	var out [][]byte
	var cur []byte
	for i, f := range frames {
		if cur != nil && len(cur)+1+len(f)+tail > limit {
			out = append(out, append(cur, ']', '}'))
			cur = nil
		}
		if cur == nil {
			// Sized for what is left, up to the limit: one allocation per
			// replay frame.
			size := len(head) + tail
			for _, g := range frames[i:] {
				if size+len(g)+1 > limit {
					break
				}
				size += len(g) + 1
			}
			cur = append(make([]byte, 0, max(size, len(head)+len(f)+tail)), head...)
		} else {
			cur = append(cur, ',')
		}
		cur = append(cur, f...)
	}
	return append(out, append(cur, ']', '}'))
}
