package testenv

import (
	"fmt"
	"strconv"
	"syscall"
	"testing"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// KafkaProc is a private Kafka broker (kfake) in a process of its own, for
// fault tests: stall it with Stall/Resume (SIGSTOP/SIGCONT), kill it with
// Kill, start it again on the same port and data with Restart.
type KafkaProc struct {
	*devenv.Proc
	Port int
	Dir  string
	bin  string
	t    testing.TB
}

// Brokers is the bootstrap address.
func (k *KafkaProc) Brokers() string { return "127.0.0.1:" + strconv.Itoa(k.Port) }

// StartKafkaProc starts a broker with its data in a directory of the test.
func StartKafkaProc(t testing.TB) *KafkaProc {
	t.Helper()
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	k := &KafkaProc{Port: port, Dir: dir(t), bin: BuildDevstack(t), t: t}
	k.start()
	return k
}

func (k *KafkaProc) start() {
	k.t.Helper()
	k.Proc = startArgs(k.t, "kafka", k.bin, []string{"kafka", "-port", strconv.Itoa(k.Port), "-dir", k.Dir, "-partitions", "4"})
	if err := devenv.WaitFor(Ctx(k.t), k.Proc, "kafka", devenv.KafkaReady(k.Brokers())); err != nil {
		k.t.Fatal(err)
	}
}

// Stall freezes the broker: connections stay open, nothing is answered.
func (k *KafkaProc) Stall() { k.Signal(syscall.SIGSTOP) }

// Resume ends a Stall.
func (k *KafkaProc) Resume() { k.Signal(syscall.SIGCONT) }

// Restart starts the broker again after Kill, with the same port and data.
func (k *KafkaProc) Restart() {
	k.t.Helper()
	select {
	case <-k.Done():
	default:
		k.t.Fatal(fmt.Errorf("kafka restarted while running"))
	}
	k.start()
}
