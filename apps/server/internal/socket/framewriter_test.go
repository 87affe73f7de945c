package socket

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

func TestFrameHeader(t *testing.T) {
	for n, want := range map[int][]byte{
		0:       {0x81, 0},
		125:     {0x81, 125},
		126:     {0x81, 126, 0, 126},
		65535:   {0x81, 126, 0xff, 0xff},
		65536:   binary.BigEndian.AppendUint64([]byte{0x81, 127}, 65536),
		1 << 20: binary.BigEndian.AppendUint64([]byte{0x81, 127}, 1<<20),
	} {
		if got := appendHeader(nil, opText, n); !bytes.Equal(got, want) {
			t.Errorf("header for %d bytes: % x, want % x", n, got, want)
		}
	}
}

func TestUrgentFrames(t *testing.T) {
	for frame, want := range map[string]bool{
		`{"type":"ack","ref":"r"}`:    true,
		`{"type":"error","code":"x"}`: true,
		`{"type":"pong"}`:             true,
		`{"type":"message","seq":1}`:  false,
		`{"type":"typing"}`:           false,
	} {
		if urgent([]byte(frame)) != want {
			t.Errorf("urgent(%s) != %v", frame, want)
		}
	}
}

// discardConn is a net.Conn that accepts everything, to measure the write
// path without a socket.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkFrameWriterBatch is the per-connection write path: headers for a
// batch of shared payloads, gathered into one write.
func BenchmarkFrameWriterBatch(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 300)
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("frames=%d", n), func(b *testing.B) {
			fw := &frameWriter{}
			b.ReportAllocs()
			for b.Loop() {
				fw.reset()
				for range n {
					fw.add(opText, payload)
				}
				if err := fw.writeBlocking(discardConn{}, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTryWriteNeverBlocks: against a client that reads nothing, a write
// larger than the socket buffers returns at once with the exact bytes the
// kernel did not take, which then complete the stream.
func TestTryWriteNeverBlocks(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	var want bytes.Buffer
	fw := &frameWriter{}
	fw.reset()
	for i := range maxBatch {
		payload := bytes.Repeat([]byte{byte('a' + i%26)}, 200<<10) // 12.8 MB in all
		fw.add(opText, payload)
		want.Write(appendHeader(nil, opText, len(payload)))
		want.Write(payload)
	}
	rest, err := fw.tryWrite(server)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) == 0 || len(rest) >= want.Len() {
		t.Fatalf("rest = %d bytes of %d: want a partial write", len(rest), want.Len())
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	if _, err := server.Write(rest); err != nil {
		t.Fatal(err)
	}
	server.Close()
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("stream differs: got %d bytes, want %d", len(b), want.Len())
	}
}
