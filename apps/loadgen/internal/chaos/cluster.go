package chaos

import (
	"github.com/rookery-chat/rookery/apps/loadgen/internal/stack"
)

// Bins are the programs a chaos cluster runs.
type Bins = stack.Bins

// cluster is one fault's stack and the room its load talks in.
type cluster struct {
	*stack.Stack
	room string
}
