package realtime

import (
	"bytes"
	"encoding/binary"
	"fmt"
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
		if got := frameHeader(nil, n); !bytes.Equal(got, want) {
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
			fw := &frameWriter{nc: discardConn{}}
			batch := make([][]byte, n)
			for i := range batch {
				batch[i] = payload
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := fw.write(batch, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
