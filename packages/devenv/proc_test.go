package devenv

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A process that dies while being waited for must say why in the error:
// its last lines of output, not the ones before them.
func TestWaitForCarriesTheLastOutput(t *testing.T) {
	script := "for i in $(seq 1 20); do echo line-$i; done; echo 'listen tcp: address already in use' >&2; exit 3"
	p, err := StartProc(ProcSpec{Name: "dying", Path: "/bin/sh", Args: []string{"-c", script}, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = WaitFor(ctx, p, "dying", func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("the error does not carry the process's last output: %v", err)
	}
	if strings.Contains(err.Error(), "line-"+strconv.Itoa(20-tailLines+1)+`"`) || !strings.Contains(err.Error(), "line-20") {
		t.Fatalf("the error should carry exactly the last %d lines: %v", tailLines, err)
	}
}
